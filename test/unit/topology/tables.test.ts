import { afterEach, describe, expect, it } from 'vitest';
import { Serdes, TopologyBuilder } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

interface Tenant {
  plan: string;
  seats: number;
}
interface Event {
  user: string;
}
const tenants = Serdes.json<Tenant>();
const events = Serdes.json<Event>();

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

describe('tables and stream-table joins', () => {
  it('enriches events with the tenant row; inner join drops unknown tenants, left join keeps them with null', async () => {
    const builder = new TopologyBuilder();
    const config = builder.table('tenant_config', {
      key: Serdes.string,
      value: tenants,
      name: 'tenant-config',
    });
    const stream = builder.stream('events', { key: Serdes.string, value: events });
    stream.join(config, (e, t) => `${e.user}:${t.plan}`, { value: Serdes.string }).to('enriched');
    stream
      .leftJoin(config, (e, t) => `${e.user}:${t?.plan ?? 'none'}`, { value: Serdes.string })
      .to('enriched-left');
    const topology = builder.build();
    // the join reads the table's store, so both topics are one sub-topology (co-partitioned tasks)
    expect(topology.subTopologies).toHaveLength(1);
    driver = await TestDriver.create(topology);
    await driver.pipeInput('tenant_config', 'acme', { plan: 'pro', seats: 10 });
    await driver.pipeInput('events', 'acme', { user: 'u1' });
    await driver.pipeInput('events', 'globex', { user: 'u2' });
    await driver.pipeInput('tenant_config', 'acme', { plan: 'enterprise', seats: 50 });
    await driver.pipeInput('events', 'acme', { user: 'u3' });
    // a tombstone removes the row
    await driver.pipeInput('tenant_config', 'acme', null);
    await driver.pipeInput('events', 'acme', { user: 'u4' });
    expect(driver.readOutput<string, string>('enriched').map((r) => r.value)).toEqual([
      'u1:pro',
      'u3:enterprise',
    ]);
    expect(driver.readOutput<string, string>('enriched-left').map((r) => r.value)).toEqual([
      'u1:pro',
      'u2:none',
      'u3:enterprise',
      'u4:none',
    ]);
  });

  it('a table emits its updates, tombstones included; filter retracts rows that stop matching; mapValues maps them', async () => {
    const builder = new TopologyBuilder();
    const config = builder.table('tenant_config', {
      key: Serdes.string,
      value: tenants,
      name: 'tenant-config',
    });
    config.toStream().to('changes');
    config
      .filter((t) => t.seats >= 20)
      .toStream()
      .to('large');
    config
      .mapValues((t) => t.plan.toUpperCase(), { value: Serdes.string })
      .toStream()
      .to('plans');
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('tenant_config', 'acme', { plan: 'pro', seats: 30 });
    await driver.pipeInput('tenant_config', 'acme', { plan: 'pro', seats: 5 });
    await driver.pipeInput('tenant_config', 'acme', null);
    expect(driver.readOutput<string, Tenant | null>('changes').map((r) => r.value?.seats ?? null)).toEqual([
      30,
      5,
      null,
    ]);
    expect(driver.readOutput<string, Tenant | null>('large').map((r) => r.value?.seats ?? null)).toEqual([
      30,
      null,
      null,
    ]);
    expect(driver.readOutput<string, string | null>('plans').map((r) => r.value)).toEqual([
      'PRO',
      'PRO',
      null,
    ]);
  });

  it('refuses a join against a table that is not materialised', () => {
    const builder = new TopologyBuilder();
    const config = builder.table('tenant_config', { key: Serdes.string, value: tenants });
    const stream = builder.stream('events', { key: Serdes.string, value: events });
    expect(() =>
      stream.join(
        config.filter((t) => t.seats > 1),
        (e) => e,
      ),
    ).toThrow(/not materialised/);
  });
});

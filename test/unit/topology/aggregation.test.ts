import { afterEach, describe, expect, it } from 'vitest';
import {
  DLQ_HEADERS,
  describeTopology,
  internalTopics,
  partitionForKey,
  Serdes,
  TopologyBuilder,
} from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

interface Click {
  tenant: string;
  user: string;
}
const clicks = Serdes.json<Click>();

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** in → count per (unchanged) key → counts */
function countPerUser() {
  const builder = new TopologyBuilder();
  builder
    .stream('in', { key: Serdes.string, value: clicks })
    .groupByKey()
    .count({ name: 'per-user' })
    .toStream()
    .to('counts', { value: Serdes.number });
  return builder.build();
}

describe('groupByKey / count on the memory transport', () => {
  it('counts per key without repartitioning when the key is unchanged', async () => {
    const topology = countPerUser();
    expect(topology.subTopologies).toHaveLength(1);
    driver = await TestDriver.create(topology);
    for (const user of ['a', 'b', 'a', 'a']) await driver.pipeInput('in', user, { tenant: 't', user });
    expect(driver.readOutput<string, number>('counts').map((r) => [r.key, r.value])).toEqual([
      ['a', 1],
      ['b', 1],
      ['a', 2],
      ['a', 3],
    ]);
  });

  it('re-keying before a count inserts a repartition topic and a second sub-topology', async () => {
    const builder = new TopologyBuilder();
    builder
      .stream('in', { key: Serdes.string, value: clicks })
      .selectKey((c) => c.tenant, { key: Serdes.string })
      .groupByKey({ name: 'by-tenant' })
      .count({ name: 'per-tenant' })
      .toStream()
      .to('counts', { value: Serdes.number });
    const topology = builder.build();
    expect(topology.subTopologies).toHaveLength(2);
    const internal = internalTopics(topology, 'app').map((t) => t.name);
    expect(internal).toEqual(
      expect.arrayContaining(['app-by-tenant-repartition', 'app-per-tenant-changelog']),
    );
    expect(describeTopology(topology, 'app')).toMatch(
      /Sub-topology: 1[\s\S]*Source: .*app-by-tenant-repartition/,
    );

    driver = await TestDriver.create(topology, { applicationId: 'app', defaultPartitions: 4 });
    const input = ['acme/1', 'globex/1', 'acme/2', 'acme/3', 'initech/9', 'globex/2'];
    for (const key of input) await driver.pipeInput('in', key, { tenant: key.split('/')[0]!, user: key });
    const out = driver.readOutput<string, number>('counts');
    const latest = new Map(out.map((r) => [r.key, r.value]));
    expect(Object.fromEntries(latest)).toEqual({ acme: 3, globex: 2, initech: 1 });
    // every repartitioned record sits on the partition its new key hashes to
    for (const r of driver.readRaw('app-by-tenant-repartition')) {
      expect(r.partition).toBe(partitionForKey(r.key, 4, () => 0));
    }
  });

  it('logs every count update to the store changelog', async () => {
    driver = await TestDriver.create(countPerUser());
    await driver.pipeInput('in', 'a', { tenant: 't', user: 'a' });
    await driver.pipeInput('in', 'a', { tenant: 't', user: 'a' });
    const changelog = driver.readRaw('test-app-per-user-changelog');
    expect(changelog.map((r) => r.value?.toString())).toEqual(['1', '2']);
  });

  it('logs one changelog record per key and batch, with the last value, while the table forwards every update', async () => {
    driver = await TestDriver.create(countPerUser());
    const clicksOf = (user: string, n: number) =>
      Array.from({ length: n }, () => ({ key: user, value: { tenant: 't', user } }));
    await driver.pipeInputs('in', [...clicksOf('a', 3), ...clicksOf('b', 2), ...clicksOf('a', 2)]);
    // every update still reaches the table's downstream
    expect(driver.readOutput<string, number>('counts').map((r) => [r.key, r.value])).toEqual([
      ['a', 1],
      ['a', 2],
      ['a', 3],
      ['b', 1],
      ['b', 2],
      ['a', 4],
      ['a', 5],
    ]);
    const changelog = driver.readRaw('test-app-per-user-changelog');
    // one record per key, in the order the keys were first written in the batch
    expect(changelog.map((r) => [r.key?.toString(), r.value?.toString()])).toEqual([
      ['a', '5'],
      ['b', '2'],
    ]);
    // the next batch logs again
    await driver.pipeInput('in', 'b', { tenant: 't', user: 'b' });
    expect(driver.readRaw('test-app-per-user-changelog').map((r) => r.value?.toString())).toEqual(['3']);
  });
});

describe('a failing aggregator', () => {
  it('dead-letters exactly the failed record and still aggregates the ones queued behind it in the batch', async () => {
    const builder = new TopologyBuilder();
    builder
      .stream('in', { key: Serdes.string, value: clicks })
      .groupByKey()
      .aggregate(
        () => 0,
        (_key, click, n) => {
          if (click.user === 'poison') throw new Error('cannot count poison');
          return n + 1;
        },
        { name: 'careful-count', value: Serdes.json<number>() },
      )
      .toStream()
      .to('counts', { value: Serdes.json<number>() });
    driver = await TestDriver.create(builder.build());
    // three records in one batch: the failure happens while the next one is already queued
    const log = driver.transport.log;
    for (const user of ['ok', 'poison', 'ok']) {
      log.append({
        topic: 'in',
        partition: 0,
        key: Buffer.from('k'),
        value: Buffer.from(JSON.stringify({ tenant: 't', user })),
        timestamp: 1,
      });
    }
    log.notify();
    await driver.advanceTime(0);
    expect(driver.readOutput<string, number>('counts').map((r) => r.value)).toEqual([1, 2]);
    const dead = driver.readDeadLetters();
    expect(dead.map((d) => JSON.parse(d.value!.toString()).user)).toEqual(['poison']);
    expect(String(dead[0]!.headers[DLQ_HEADERS.offset])).toBe('1');
  });
});

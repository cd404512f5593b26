/**
 * The application through a broker outage, on a memory transport whose
 * producers fail with an "unreachable" error while the test says the
 * brokers are down: within maxBrokerOutageMs nothing is fatal and
 * brokerOutage() reports it; past it the application fails with
 * VEROAI_ERR_KAFKA_UNREACHABLE, committing nothing after the outage began.
 * (test/integration/broker-outage.test.ts takes a real broker away.)
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MemoryTransport,
  Serdes,
  StreamsApplication,
  TopologyBuilder,
  VeroaiError,
} from '../../../topology/index.js';
import type { TransportProducer } from '../../../topology/transports/transport.js';
import { until } from '../../support/until.js';

const silent = pino({ level: 'silent' });
const apps: StreamsApplication[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop().catch(() => undefined);
});

/** A memory log whose producers cannot reach it while `down`. */
class FlakyTransport extends MemoryTransport {
  down = false;

  unreachable(error: unknown): boolean {
    return error instanceof Error && error.message.startsWith('unreachable');
  }

  override async producer(): Promise<TransportProducer> {
    if (this.down) throw new Error('unreachable: connect ECONNREFUSED');
    const inner = await super.producer();
    return {
      send: async (records) => {
        if (this.down) throw new Error('unreachable: connection closed');
        await inner.send(records);
      },
      close: () => inner.close(),
    };
  }
}

async function setUp(maxBrokerOutageMs: number) {
  const transport = new FlakyTransport();
  await transport.ensureTopics([
    { name: 'in', partitions: 1 },
    { name: 'out', partitions: 1 },
  ]);
  const builder = new TopologyBuilder();
  builder
    .stream('in', { key: Serdes.string, value: Serdes.number })
    .mapValues((v) => (v ?? 0) * 10)
    .to('out', { key: Serdes.string, value: Serdes.number });
  const app = new StreamsApplication(builder.build(), {
    applicationId: `outage-${Math.random().toString(36).slice(2)}`,
    transport,
    commitIntervalMs: 10,
    maxBrokerOutageMs,
    logger: silent,
  });
  apps.push(app);
  const append = (value: number) => {
    transport.log.append({
      topic: 'in',
      partition: 0,
      key: Buffer.from('k'),
      value: Serdes.number.serialize(value, 'in'),
      timestamp: value,
    });
    transport.log.notify();
  };
  const output = () =>
    transport.log.read('out', 0, 0, 1_000).map((r) => Serdes.number.deserialize(r.value, 'out') as number);
  const committed = () => transport.log.committed(app.applicationId, 'in', 0);
  return { app, transport, append, output, committed };
}

describe('a broker outage', () => {
  it('within maxBrokerOutageMs: output is resent once the brokers are back, the outage reported meanwhile, nothing fatal', async () => {
    const { app, transport, append, output, committed } = await setUp(10_000);
    const errors: unknown[] = [];
    app.on('error', (e) => errors.push(e));
    await app.start();
    append(1);
    await until(() => committed() === 1, 'the first record committed');
    expect(app.brokerOutage()).toBeUndefined();
    transport.down = true;
    const began = Date.now();
    append(2);
    append(3);
    await until(() => app.brokerOutage() !== undefined, 'the outage reported');
    const outage = app.brokerOutage()!;
    expect(outage.since).toBeGreaterThanOrEqual(began);
    expect(String(outage.lastError)).toMatch(/unreachable/);
    // resends keep failing (new producers cannot connect either): nothing more is committed meanwhile
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(committed()).toBe(1);
    expect(app.state).toBe('running');
    transport.down = false;
    await until(() => committed() === 3, 'the rest committed once the brokers are back');
    expect(output()).toEqual([10, 20, 30]);
    expect(app.brokerOutage()).toBeUndefined();
    expect(app.state).toBe('running');
    expect(errors).toEqual([]);
  }, 20_000);

  it('past maxBrokerOutageMs: the application fails with VEROAI_ERR_KAFKA_UNREACHABLE and commits nothing more', async () => {
    const { app, transport, append, committed } = await setUp(300);
    const failed = new Promise<unknown>((resolve) => app.on('error', resolve));
    await app.start();
    append(1);
    await until(() => committed() === 1, 'the first record committed');
    transport.down = true;
    append(2);
    const error = await failed;
    expect(error).toBeInstanceOf(VeroaiError);
    expect((error as VeroaiError).code).toBe('VEROAI_ERR_KAFKA_UNREACHABLE');
    expect((error as VeroaiError).message).toMatch(
      /unreachable for \d+ s, longer than BROKER_MAX_OUTAGE_MS \(300 ms\)/,
    );
    expect((error as VeroaiError).hint).toMatch(/KAFKA_BROKERS/);
    expect(app.state).toBe('failed');
    transport.down = false;
    await app.stop().catch(() => undefined);
    expect(committed()).toBe(1);
  }, 20_000);

  it('rejects a maxBrokerOutageMs that is not a positive duration', () => {
    const builder = new TopologyBuilder();
    builder.stream('in', { key: Serdes.string, value: Serdes.number }).to('out');
    const topology = builder.build();
    for (const maxBrokerOutageMs of [0, -1, Number.NaN])
      expect(
        () =>
          new StreamsApplication(topology, {
            applicationId: 'x',
            transport: new MemoryTransport(),
            maxBrokerOutageMs,
          }),
      ).toThrow(/maxBrokerOutageMs/);
  });
});

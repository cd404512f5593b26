/**
 * The engine on a real broker: delivery, repartitioning, dead letters,
 * restarts and group membership. The broker is the project's own
 * (deploy/kafka), started here when KAFKA_BROKERS is not set.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import {
  DLQ_HEADERS,
  partitionForKey,
  Serdes,
  StreamsApplication,
  type Topology,
  TopologyBuilder,
} from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { eventually, produce, readTopic } from '../support/kafka-io.js';

interface Order {
  id: number;
  tenant: string;
  user: string;
  amount: number;
  kind?: string;
}

const orders = Serdes.json<Order>();
let brokers: string[];
const running: Array<{ app: StreamsApplication; transport: KafkaTransport }> = [];

beforeAll(async () => {
  brokers = await ensureKafka();
});

afterAll(async () => {
  for (const { app, transport } of running.splice(0)) {
    await app.stop().catch(() => undefined);
    await transport.close();
  }
});

async function startApp(topology: Topology, applicationId: string): Promise<StreamsApplication> {
  const transport = new KafkaTransport({ brokers, clientId: applicationId });
  const app = new StreamsApplication(topology, {
    applicationId,
    transport,
    commitIntervalMs: 200,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    metricsRegistry: new Registry(),
  });
  running.push({ app, transport });
  await app.start();
  return app;
}

async function stopApp(app: StreamsApplication): Promise<void> {
  const i = running.findIndex((r) => r.app === app);
  const [entry] = running.splice(i, 1);
  await app.stop();
  await entry!.transport.close();
}

const order = (id: number): Order => ({ id, tenant: `t${id % 7}`, user: `u${id % 101}`, amount: id % 50 });
const asInput = (o: Order) => ({ key: `${o.tenant}/${o.user}`, value: JSON.stringify(o) });
const decode = (value: Buffer | null): Order => JSON.parse(value!.toString('utf8')) as Order;

describe('the engine on a real Kafka broker', () => {
  it('a 3-partition consume → transform → produce pipeline delivers every input, in content', async () => {
    const input = uniqueName('orders');
    const output = uniqueName('large-orders');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: orders })
      .filter((o) => o.amount >= 10)
      .mapValues((o) => ({ ...o, amount: o.amount * 100 }), { value: orders })
      .to(output);
    const all = Array.from({ length: 6_000 }, (_, i) => order(i));
    await produce(brokers, input, all.map(asInput));
    const app = await startApp(builder.build(), uniqueName('pipeline'));
    const expected = all.filter((o) => o.amount >= 10);
    const out = await readTopic(brokers, output, { atLeast: expected.length });
    expect(out).toHaveLength(expected.length);
    const byId = new Map(out.map((r) => [decode(r.value).id, r]));
    for (const o of expected) {
      const got = byId.get(o.id);
      expect(got, `order ${o.id}`).toBeDefined();
      expect(decode(got!.value).amount).toBe(o.amount * 100);
      // the key is kept, so the record stays on its input partition's key hash
      expect(got!.key).toBe(`${o.tenant}/${o.user}`);
      expect(got!.partition).toBe(partitionForKey(Buffer.from(got!.key!), 3, () => 0));
    }
    expect(app.activeTasks().size).toBe(3);
    await stopApp(app);
  });

  it('re-keying repartitions through an internal topic, landing each record on its new key’s partition', async () => {
    const input = uniqueName('orders');
    const output = uniqueName('orders-per-tenant');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    const applicationId = uniqueName('repartition');
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: orders })
      .selectKey((o) => o.tenant, { key: Serdes.string })
      .groupByKey()
      .count({ name: 'orders-per-tenant' })
      .toStream()
      .to(output, { value: Serdes.number });
    const topology = builder.build();
    const all = Array.from({ length: 2_100 }, (_, i) => order(i));
    await produce(brokers, input, all.map(asInput));
    const app = await startApp(topology, applicationId);
    const counts = await readTopic(brokers, output, { atLeast: all.length });
    const last = new Map<string, number>();
    for (const r of counts.sort((a, b) => a.offset - b.offset)) last.set(r.key!, Number(r.value!.toString()));
    expect(Object.fromEntries(last)).toEqual(
      Object.fromEntries(Array.from({ length: 7 }, (_, t) => [`t${t}`, 300])),
    );
    const repartition = topology.subTopologies
      .flatMap((s) => s.sinks)
      .find((s) => s.topic.kind === 'internal')!;
    const internal = `${applicationId}-${repartition.topic.name}`;
    const shuffled = await readTopic(brokers, internal, { atLeast: all.length });
    expect(shuffled).toHaveLength(all.length);
    for (const r of shuffled) expect(r.partition).toBe(partitionForKey(Buffer.from(r.key!), 3, () => 0));
    await stopApp(app);
  });

  it('corrupt bytes and a throwing processor go to the DLQ with their headers while good records flow', async () => {
    const input = uniqueName('orders');
    const output = uniqueName('checked-orders');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    const applicationId = uniqueName('dlq');
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: orders })
      .mapValues(
        (o) => {
          if (o.kind === 'poison') throw new RangeError(`order ${o.id} is poison`);
          return o;
        },
        { name: 'check-order', value: orders },
      )
      .to(output);
    const good = Array.from({ length: 300 }, (_, i) => order(i));
    await produce(brokers, input, [
      ...good.slice(0, 150).map(asInput),
      {
        key: 'bad/1',
        value: Buffer.from([0x7b, 0x22, 0xff, 0x00]),
        partition: 1,
        timestamp: 1_700_000_000_000,
      },
      {
        key: 'bad/2',
        value: JSON.stringify({ ...order(9999), kind: 'poison' }),
        partition: 2,
        timestamp: 1_700_000_000_001,
      },
      ...good.slice(150).map(asInput),
    ]);
    const app = await startApp(builder.build(), applicationId);
    const out = await readTopic(brokers, output, { atLeast: good.length });
    expect(new Set(out.map((r) => decode(r.value).id))).toEqual(new Set(good.map((o) => o.id)));
    const dead = await readTopic(brokers, `${applicationId}-dlq`, { atLeast: 2 });
    expect(dead).toHaveLength(2);
    const corrupt = dead.find((r) => r.key === 'bad/1')!;
    expect(corrupt.value).toEqual(Buffer.from([0x7b, 0x22, 0xff, 0x00]));
    expect(corrupt.headers[DLQ_HEADERS.errorClass]).toBe('DeserializationError');
    expect(corrupt.headers[DLQ_HEADERS.topic]).toBe(input);
    expect(corrupt.headers[DLQ_HEADERS.partition]).toBe('1');
    expect(corrupt.headers[DLQ_HEADERS.timestamp]).toBe('1700000000000');
    expect(Number(corrupt.headers[DLQ_HEADERS.offset])).toBeGreaterThanOrEqual(0);
    const poison = dead.find((r) => r.key === 'bad/2')!;
    expect(poison.headers[DLQ_HEADERS.errorClass]).toBe('ProcessingError');
    expect(poison.headers[DLQ_HEADERS.errorMessage]).toContain('order 9999 is poison');
    expect(poison.headers[DLQ_HEADERS.node]).toBe('check-order');
    expect(poison.headers[DLQ_HEADERS.partition]).toBe('2');
    expect(await metricSum(app, 'veroai_dlq_records_total')).toBe(2);
    expect(app.state).toBe('running');
    await stopApp(app);
  });

  it('a restart mid-stream loses nothing (duplicates are counted, loss never)', async () => {
    const input = uniqueName('orders');
    const output = uniqueName('copied-orders');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    const applicationId = uniqueName('restart');
    const build = () => {
      const builder = new TopologyBuilder();
      builder.stream(input, { key: Serdes.string, value: orders }).to(output);
      return builder.build();
    };
    const all = Array.from({ length: 30_000 }, (_, i) => order(i));
    await produce(brokers, input, all.slice(0, 20_000).map(asInput));
    const first = await startApp(build(), applicationId);
    // stop while the first instance is part-way through its input
    await eventually(async () => (await outputCount(output)) >= 2_000, 'some output from the first instance');
    await stopApp(first);
    await produce(brokers, input, all.slice(20_000).map(asInput));
    const second = await startApp(build(), applicationId);
    const out = await readTopic(brokers, output, { atLeast: all.length, timeoutMs: 120_000, quietMs: 1_500 });
    const seen = new Map<number, number>();
    for (const r of out) seen.set(decode(r.value).id, (seen.get(decode(r.value).id) ?? 0) + 1);
    const missing = all.filter((o) => !seen.has(o.id));
    const duplicates = out.length - seen.size;
    expect(missing).toEqual([]);
    expect(seen.size).toBe(all.length);
    // a graceful stop commits what it wrote: at most the in-flight batches repeat
    expect(duplicates).toBeLessThan(all.length / 2);
    console.info(`restart test: ${all.length} inputs, ${out.length} outputs, ${duplicates} duplicates`);
    await stopApp(second);
  });

  it('two instances in one group share the partitions and together deliver everything', async () => {
    const input = uniqueName('orders');
    const output = uniqueName('shared-orders');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    const applicationId = uniqueName('shared');
    const build = () => {
      const builder = new TopologyBuilder();
      builder
        .stream(input, { key: Serdes.string, value: orders })
        .mapValues((o) => ({ ...o, kind: 'seen' }), { value: orders })
        .to(output);
      return builder.build();
    };
    const a = await startApp(build(), applicationId);
    const b = await startApp(build(), applicationId);
    await eventually(
      () =>
        a.activeTasks().size > 0 &&
        b.activeTasks().size > 0 &&
        a.activeTasks().size + b.activeTasks().size === 3,
      'both instances own tasks',
    );
    const ownedByA = new Set(a.activeTasks().keys());
    for (const id of b.activeTasks().keys()) expect(ownedByA.has(id)).toBe(false);
    const all = Array.from({ length: 9_000 }, (_, i) => order(i));
    await produce(brokers, input, all.map(asInput));
    const out = await readTopic(brokers, output, { atLeast: all.length });
    expect(new Set(out.map((r) => decode(r.value).id)).size).toBe(all.length);
    expect(await metricSum(a, 'veroai_records_consumed_total')).toBeGreaterThan(0);
    expect(await metricSum(b, 'veroai_records_consumed_total')).toBeGreaterThan(0);
    await stopApp(b);
    await stopApp(a);
  });
});

/** The sum of a counter over all its label sets. */
async function metricSum(app: StreamsApplication, name: string): Promise<number> {
  const metric = await app.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

async function outputCount(topic: string): Promise<number> {
  const transport = new KafkaTransport({ brokers });
  try {
    return (await transport.endOffsets(topic)).reduce((a, b) => a + b, 0);
  } finally {
    await transport.close();
  }
}

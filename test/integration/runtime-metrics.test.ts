/**
 * Engine metrics on a real broker: veroai_consumer_lag from the offsets Kafka
 * reports, and veroai_end_to_end_latency_seconds when transactions commit.
 */
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { type MetricValueWithName, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { Serdes, StreamsApplication, TopologyBuilder } from '../../topology/index.js';
import { ConsumerLagMonitor } from '../../topology/runtime/consumer-lag.js';
import { RuntimeMetrics } from '../../topology/runtime/metrics.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { eventually, produce, readTopic } from '../support/kafka-io.js';

let brokers: string[];
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  brokers = await ensureKafka();
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function lagOf(registry: Registry): Promise<Record<string, number>> {
  const values = (await registry.getSingleMetric('veroai_consumer_lag')!.get()).values;
  return Object.fromEntries(values.map((v) => [`${v.labels.topic}:${v.labels.partition}`, v.value]));
}

describe('consumer lag on the kafka transport', () => {
  it("starts from the group's committed offsets, and reports none for a partition without one", async () => {
    const topic = uniqueName('lag-in');
    const group = uniqueName('lag-group');
    await createTopic(brokers, topic, 2);
    await produce(brokers, topic, [
      ...Array.from({ length: 7 }, (_, i) => ({ key: `a${i}`, value: 'x', partition: 0 })),
      ...Array.from({ length: 3 }, (_, i) => ({ key: `b${i}`, value: 'x', partition: 1 })),
    ]);
    const admin = new Kafka({ clientId: 'veroai-test', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '2' }] });
    } finally {
      await admin.disconnect();
    }
    const transport = new KafkaTransport({ brokers, clientId: group });
    cleanups.push(() => transport.close());
    expect(await transport.committedOffsets(group, topic)).toEqual([2, undefined]);
    expect(await transport.endOffsets(topic)).toEqual([7, 3]);

    const registry = new Registry();
    const monitor = new ConsumerLagMonitor(
      transport,
      group,
      new RuntimeMetrics(registry, group),
      pino({ level: 'silent' }),
      60_000,
    );
    monitor.assigned([
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    await monitor.refresh();
    expect(await lagOf(registry)).toEqual({ [`${topic}:0`]: 5 });
  });

  it('a running application reports every owned partition, at zero once it has caught up', async () => {
    const input = uniqueName('lag-app-in');
    const output = uniqueName('lag-app-out');
    const applicationId = uniqueName('lag-app');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    await produce(
      brokers,
      input,
      Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
    );
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: Serdes.string })
      .mapValues((v) => (v ?? '').toUpperCase(), { value: Serdes.string })
      .to(output);
    const transport = new KafkaTransport({ brokers, clientId: applicationId });
    const registry = new Registry();
    const app = new StreamsApplication(builder.build(), {
      applicationId,
      transport,
      commitIntervalMs: 200,
      lagRefreshIntervalMs: 200,
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      metricsRegistry: registry,
    });
    cleanups.push(async () => {
      await app.stop();
      await transport.close();
    });
    await app.start();
    const caughtUp = { [`${input}:0`]: 0, [`${input}:1`]: 0, [`${input}:2`]: 0 };
    const sameAs = (a: Record<string, number>, b: Record<string, number>) =>
      Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
    // on timeout the assertion below shows the last lag seen
    await eventually(async () => sameAs(await lagOf(registry), caughtUp), 'every partition at lag 0').catch(
      () => undefined,
    );
    expect(await lagOf(registry)).toEqual(caughtUp);
    await app.stop();
    expect(await lagOf(registry)).toEqual({});
  });
});

describe('consumer lag under exactly_once', () => {
  it('the kafka transport skips transaction markers and aborted records from an offset, to the next committed record', async () => {
    const topic = uniqueName('markers');
    await createTopic(brokers, topic, 1);
    const kafka = new Kafka({ clientId: 'veroai-test', brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ transactionalId: uniqueName('markers-tx'), maxInFlightRequests: 1 });
    await producer.connect();
    const write = async (values: string[], outcome: 'commit' | 'abort') => {
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages: values.map((value) => ({ key: 'k', value, partition: 0 })) });
      await transaction[outcome]();
    };
    try {
      // 0-1 records, 2 commit marker, 3-4 aborted records, 5 abort marker, 6 record, 7 commit marker,
      // 8-9 aborted records, 10 abort marker
      await write(['a', 'b'], 'commit');
      await write(['x', 'y'], 'abort');
      await write(['c'], 'commit');
      await write(['x', 'y'], 'abort');
    } finally {
      await producer.disconnect();
    }
    const transport = new KafkaTransport({ brokers, clientId: 'veroai-test' });
    cleanups.push(() => transport.close());
    expect(await transport.endOffsets(topic)).toEqual([11]);
    const tail = async (from: number) =>
      (await transport.skipTransactionMarkers(topic, new Map([[0, from]]))).get(0);
    expect(await tail(0)).toEqual({ offset: 0, record: true });
    expect(await tail(2)).toEqual({ offset: 6, record: true });
    expect(await tail(7)).toEqual({ offset: 11, record: false });
    expect(await tail(11)).toEqual({ offset: 11, record: false });
  });

  it('reads 0 on every partition once all input is processed: transaction markers and aborted records are not lag', async () => {
    const input = uniqueName('eos-lag-in');
    const output = uniqueName('eos-lag-out');
    const applicationId = uniqueName('eos-lag-app');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    // input written in transactions, as an upstream exactly_once application writes it: a commit
    // marker after each transaction's records on every partition, and at the end an aborted
    // transaction (its records, then an abort marker) that a read_committed consumer never sees
    const kafka = new Kafka({ clientId: 'veroai-test', brokers, logLevel: logLevel.NOTHING });
    const upstream = kafka.producer({
      transactionalId: uniqueName('eos-lag-upstream'),
      maxInFlightRequests: 1,
    });
    await upstream.connect();
    try {
      for (let t = 0; t < 3; t++) {
        const transaction = await upstream.transaction();
        await transaction.send({
          topic: input,
          messages: Array.from({ length: 100 }, (_, i) => ({
            key: `k${t * 100 + i}`,
            value: String(i % 10),
          })),
        });
        await transaction.commit();
      }
      const aborted = await upstream.transaction();
      await aborted.send({
        topic: input,
        messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: 'aborted' })),
      });
      await aborted.abort();
    } finally {
      await upstream.disconnect();
    }
    // re-keyed: the count reads the repartition topic, which this application writes in its transactions
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: Serdes.string })
      .groupBy((v) => `g${v}`, { key: Serdes.string })
      .count({ name: 'per-group' })
      .toStream()
      .to(output, { value: Serdes.number });
    const topology = builder.build();
    const repartition = topology.subTopologies
      .flatMap((s) => s.sinks)
      .find((s) => s.topic.kind === 'internal')!;
    const internal = `${applicationId}-${repartition.topic.name}`;
    const transport = new KafkaTransport({ brokers, clientId: applicationId });
    const registry = new Registry();
    const app = new StreamsApplication(topology, {
      applicationId,
      transport,
      processingGuarantee: 'exactly_once',
      commitIntervalMs: 200,
      lagRefreshIntervalMs: 200,
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      metricsRegistry: registry,
    });
    cleanups.push(async () => {
      await app.stop();
      await transport.close();
    });
    await app.start();
    // all input processed: every group's final count is in the committed output
    const finalCounts = async () => {
      const last = new Map<string, number>();
      for (const r of (await readTopic(brokers, output, { toEnd: true })).sort((a, b) => a.offset - b.offset))
        last.set(r.key!, Number(r.value!.toString()));
      return Object.fromEntries(last);
    };
    // ten groups: the repartition topic's three partitions all get records
    const expected = Object.fromEntries(Array.from({ length: 10 }, (_, g) => [`g${g}`, 30]));
    const sameAs = (a: Record<string, number>, b: Record<string, number>) =>
      Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
    await eventually(async () => sameAs(await finalCounts(), expected), 'final counts').catch(
      () => undefined,
    );
    expect(await finalCounts()).toEqual(expected);
    const caughtUp = Object.fromEntries(
      [input, internal].flatMap((topic) => [0, 1, 2].map((p) => [`${topic}:${p}`, 0])),
    );
    // on timeout the assertion below shows the last lag seen
    await eventually(
      async () => sameAs(await lagOf(registry), caughtUp),
      'every partition at lag 0',
      20_000,
    ).catch(() => undefined);
    expect(await lagOf(registry)).toEqual(caughtUp);
  }, 180_000);
});

describe('end-to-end latency on the kafka transport', () => {
  it('exactly_once: observed once per output record, when its transaction commits', async () => {
    const input = uniqueName('e2e-in');
    const output = uniqueName('e2e-out');
    const applicationId = uniqueName('e2e-app');
    await createTopic(brokers, input, 2);
    await createTopic(brokers, output, 2);
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: Serdes.string })
      .filter((v) => Number(v) % 2 === 0)
      .to(output);
    const transport = new KafkaTransport({ brokers, clientId: applicationId });
    const registry = new Registry();
    const app = new StreamsApplication(builder.build(), {
      applicationId,
      transport,
      processingGuarantee: 'exactly_once',
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      metricsRegistry: registry,
    });
    cleanups.push(async () => {
      await app.stop();
      await transport.close();
    });
    await app.start();
    await produce(
      brokers,
      input,
      Array.from({ length: 100 }, (_, i) => ({
        key: `k${i}`,
        value: String(i),
        timestamp: Date.now() - 1_000,
      })),
    );
    const observed = async () =>
      (
        (await registry.getSingleMetric('veroai_end_to_end_latency_seconds')!.get())
          .values as MetricValueWithName<string>[]
      ).filter((v) => v.metricName === 'veroai_end_to_end_latency_seconds_count');
    await eventually(async () => (await observed())[0]?.value === 50, '50 observations').catch(
      () => undefined,
    );
    const counts = await observed();
    expect(counts.map((v) => [v.labels.topic, v.value])).toEqual([[output, 50]]);
    const sum = (
      (await registry.getSingleMetric('veroai_end_to_end_latency_seconds')!.get())
        .values as MetricValueWithName<string>[]
    ).find((v) => v.metricName === 'veroai_end_to_end_latency_seconds_sum')!.value;
    // every record's event time was a second before it was produced
    expect(sum / 50).toBeGreaterThanOrEqual(1);
  });
});

/**
 * Engine metrics on a real broker: veroai_consumer_lag from the offsets Kafka
 * reports, and veroai_end_to_end_latency_seconds when transactions commit.
 */
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { type MetricValueWithName, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { KafkaTransport, Serdes, StreamsApplication, TopologyBuilder } from '../../topology/index.js';
import { ConsumerLagMonitor } from '../../topology/runtime/consumer-lag.js';
import { RuntimeMetrics } from '../../topology/runtime/metrics.js';
import { eventually, produce } from '../support/kafka-io.js';

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

/**
 * Restore rate: a count over 1M distinct keys leaves a changelog of 1M
 * entries; a second instance of the application restores it before it
 * processes, and the time from its start to the last restored record gives
 * records per second.
 */
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createTopic, ensureKafka, uniqueName } from '../deploy/kafka/local-broker.js';
import { KafkaTransport, Serdes, StreamsApplication, TopologyBuilder } from '../topology/index.js';
import { RssSampler } from './rss-sampler.js';
import { log } from './stateless.js';

const sum = async (registry: Registry, name: string) =>
  ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((s, v) => s + v.value, 0);

export async function benchRestore(options: { records: number; partitions: number }) {
  const brokers = await ensureKafka();
  const input = uniqueName('bench-restore-in');
  await createTopic(brokers, input, options.partitions);
  log(`filling ${input} with ${options.records} distinct keys`);
  const producer = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  for (let i = 0; i < options.records; i += 10_000) {
    const messages = Array.from({ length: Math.min(10_000, options.records - i) }, (_, j) => ({
      key: `user-${i + j}`,
      value: 'x',
    }));
    await producer.send({ topic: input, acks: 1, messages });
  }
  await producer.disconnect();

  const applicationId = uniqueName('bench-restore');
  const build = () => {
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: Serdes.string })
      .groupByKey()
      .count({ name: 'counts' });
    return builder.build();
  };
  const instance = () => {
    const registry = new Registry();
    const transport = new KafkaTransport({ brokers, clientId: applicationId });
    const app = new StreamsApplication(build(), {
      applicationId,
      transport,
      logger: pino({ level: 'warn' }),
      metricsRegistry: registry,
    });
    return { app, transport, registry };
  };

  log('first instance: building the changelog');
  const first = instance();
  await first.app.start();
  while ((await sum(first.registry, 'veroai_records_consumed_total')) < options.records)
    await new Promise((r) => setTimeout(r, 200));
  await first.app.stop();
  await first.transport.close();

  log('second instance: restoring');
  const second = instance();
  const rss = new RssSampler();
  const started = performance.now();
  await second.app.start();
  while ((await sum(second.registry, 'veroai_restore_records_total')) < options.records)
    await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  const restored = await sum(second.registry, 'veroai_restore_records_total');
  await second.app.stop();
  await second.transport.close();
  return {
    bench: 'restore',
    changelog_records: restored,
    partitions: options.partitions,
    seconds: Number(seconds.toFixed(2)),
    restore_rps: Math.round(restored / seconds),
    rss_mb: rss.stop(),
  };
}

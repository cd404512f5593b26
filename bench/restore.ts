/**
 * Restore rate: a count over 1M distinct keys leaves a changelog of 1M
 * entries; further instances of the application restore it before they
 * process, and the time from an instance's start to its last restored record
 * gives records per second. Measured for the in-memory store and for the
 * RocksDB store (full restore into an empty state directory), then the
 * RocksDB store's tail restore: it stops cleanly (checkpoint), another
 * instance processes 10% more input while it is away, and on its return it
 * replays only what that instance added to the changelog.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createTopic, ensureKafka } from '../deploy/kafka/local-broker.js';
import { Serdes, StreamsApplication, type StreamsConfig, TopologyBuilder } from '../topology/index.js';
import { KafkaTransport } from '../topology/transports/kafka/index.js';
import { benchName } from './bench-topics.js';
import { RssSampler } from './rss-sampler.js';
import { log } from './stateless.js';

/** The sum of a metric's series in a registry. */
export const sum = async (registry: Registry, name: string) =>
  ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((s, v) => s + v.value, 0);

/** Polls `check` every `intervalMs` until it holds. */
export async function until(check: () => Promise<boolean>, intervalMs = 20): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, intervalMs));
}

/** Writes `count` records keyed `user-<from + i>` (each key once). */
async function fillKeys(brokers: string[], topic: string, from: number, count: number): Promise<void> {
  const producer = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  for (let i = 0; i < count; i += 10_000) {
    const messages = Array.from({ length: Math.min(10_000, count - i) }, (_, j) => ({
      key: `user-${from + i + j}`,
      value: 'x',
    }));
    await producer.send({ topic, acks: 1, messages });
  }
  await producer.disconnect();
}

export async function benchRestore(options: { records: number; partitions: number }) {
  const brokers = await ensureKafka();
  const input = benchName('bench-restore-in');
  await createTopic(brokers, input, options.partitions);
  log(`filling ${input} with ${options.records} distinct keys`);
  await fillKeys(brokers, input, 0, options.records);

  const applicationId = benchName('bench-restore');
  const stateDir = await mkdtemp(join(tmpdir(), 'veroai-bench-restore-'));
  const build = () => {
    const builder = new TopologyBuilder();
    builder
      .stream(input, { key: Serdes.string, value: Serdes.string })
      .groupByKey()
      .count({ name: 'counts' });
    return builder.build();
  };
  const instance = (config: Partial<StreamsConfig> = {}) => {
    const registry = new Registry();
    const transport = new KafkaTransport({ brokers, clientId: applicationId });
    const app = new StreamsApplication(build(), {
      applicationId,
      transport,
      logger: pino({ level: 'warn' }),
      metricsRegistry: registry,
      ...config,
    });
    return { app, transport, registry };
  };
  /** Starts an instance and times it until `records` changelog records are restored; stops it afterwards. */
  const restoreRun = async (records: number, config: Partial<StreamsConfig>, afterRestore?: number) => {
    const run = instance(config);
    const rss = new RssSampler();
    const started = performance.now();
    await run.app.start();
    await until(async () => (await sum(run.registry, 'veroai_restore_records_total')) >= records);
    const seconds = (performance.now() - started) / 1000;
    const restored = await sum(run.registry, 'veroai_restore_records_total');
    // the last task is still being set up after its restore: stopping meanwhile would race it
    await until(async () => run.app.activeTasks().size >= options.partitions);
    if (afterRestore !== undefined)
      await until(async () => (await sum(run.registry, 'veroai_records_consumed_total')) >= afterRestore);
    await run.app.stop();
    await run.transport.close();
    return { restored, seconds, rssMb: rss.stop() };
  };

  log('first instance: building the changelog');
  const first = instance();
  await first.app.start();
  await until(
    async () => (await sum(first.registry, 'veroai_records_consumed_total')) >= options.records,
    200,
  );
  await first.app.stop();
  await first.transport.close();

  log('second instance: restoring into the in-memory store');
  const memory = await restoreRun(options.records, {});

  log('third instance: restoring into an empty RocksDB store');
  const rocksdb = await restoreRun(options.records, { stateDir, defaultStoreType: 'rocksdb' });

  const extra = Math.max(1, Math.round(options.records / 10));
  log(`while the RocksDB instance is away, an in-memory instance counts ${extra} more keys`);
  await fillKeys(brokers, input, options.records, extra);
  await restoreRun(options.records, {}, extra);

  log('the RocksDB instance returns: restoring the changelog tail after its checkpoint');
  const tail = await restoreRun(extra, { stateDir, defaultStoreType: 'rocksdb' });
  await rm(stateDir, { recursive: true, force: true });

  const rate = (r: { restored: number; seconds: number }) => Math.round(r.restored / r.seconds);
  return {
    bench: 'restore',
    changelog_records: memory.restored,
    partitions: options.partitions,
    seconds: Number(memory.seconds.toFixed(2)),
    restore_rps: rate(memory),
    rss_mb: memory.rssMb,
    rocksdb_seconds: Number(rocksdb.seconds.toFixed(2)),
    rocksdb_restore_rps: rate(rocksdb),
    rocksdb_rss_mb: rocksdb.rssMb,
    tail_changelog_records: memory.restored + extra,
    tail_restored_records: tail.restored,
    tail_seconds: Number(tail.seconds.toFixed(2)),
  };
}

/**
 * The first pipeline (telemetry → sessions → features) of the freshness and
 * pipeline-drain benches, on the local broker, writing to Redis under a key
 * prefix, as one instance of its application. The freshness bench runs one
 * in its own process and, with `--instances`, more in child processes
 * (freshness-instance.ts), all members of one consumer group, as Kafka
 * Streams scales out with instances.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { firstPipelineTopology } from '../processors/first-pipeline.js';
import { featureUpdateSerde, telemetryEventSerde, userSessionSerde } from '../schemas/index.js';
import { connectRedis, RedisFeatureStore, RedisSessionHistory } from '../sinks/index.js';
import { type StoreType, StreamsApplication } from '../topology/index.js';
import { topicName } from '../topology/plan/topology.js';
import { KafkaTransport } from '../topology/transports/kafka/index.js';

export interface FreshnessPipelineOptions {
  readonly brokers: string[];
  readonly redisUrl: string;
  readonly applicationId: string;
  readonly keyPrefix: string;
  /** Where the pipeline keeps its state: memory (StreamsApplication's default) or RocksDB (`veroai run`'s). */
  readonly store: StoreType;
  /** The topic of raw events, one per run (the bench deletes it when it ends). */
  readonly rawEventsTopic: string;
}

/**
 * The pipeline, its topics made (the input's partitions as the topology
 * declares them) but not started: `start` joins the group; `close` stops it
 * and closes its transport and Redis connection.
 */
export async function createFreshnessPipeline(options: FreshnessPipelineOptions) {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const registry = new Registry();
  const redis = await connectRedis(options.redisUrl);
  const { keyPrefix } = options;
  const features = new RedisFeatureStore({ redis, registry, keyPrefix, ttlMs: 3_600_000 });
  const sessionHistory = new RedisSessionHistory({ redis, registry, keyPrefix });
  const { topology, externalTopics } = firstPipelineTopology({
    serdes: { telemetry: telemetryEventSerde(), session: userSessionSerde(), feature: featureUpdateSerde() },
    sinks: { features, sessionHistory },
    rawEventsTopic: options.rawEventsTopic,
  });
  const transport = new KafkaTransport({ brokers: options.brokers, clientId: options.applicationId, logger });
  await transport.ensureTopics(externalTopics);
  const stateDir =
    options.store === 'rocksdb' ? await mkdtemp(join(tmpdir(), 'veroai-bench-freshness-')) : undefined;
  const app = new StreamsApplication(topology, {
    applicationId: options.applicationId,
    transport,
    defaultStoreType: options.store,
    ...(stateDir === undefined ? {} : { stateDir }),
    logger,
    metricsRegistry: registry,
    commitIntervalMs: 1_000,
  });
  return {
    app,
    transport,
    /** Every topic the pipeline reads: the raw events and its repartition topics. */
    sourceTopics: [
      ...new Set(
        topology.subTopologies.flatMap((sub) =>
          sub.sources.flatMap((source) => source.topics.map((ref) => topicName(ref, options.applicationId))),
        ),
      ),
    ],
    features,
    redis,
    start: () => app.start(),
    async close(): Promise<void> {
      await app.stop();
      await transport.close();
      await redis.quit();
      if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * The freshness bench: how long from an event produced to `raw_events` until
 * its feature is readable in Redis, with the whole first pipeline running on
 * the local broker at a steady event rate. Tracer events (one user each) are
 * mixed into sample traffic; a poller reads their `user_activity` hashes and
 * times when each appears. In the same run a plain kafkajs consumer on
 * `raw_events` times when each tracer is merely delivered: the client's limit.
 */
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ensureKafka, uniqueName } from '../deploy/kafka/local-broker.js';
import { firstPipelineTopology } from '../processors/first-pipeline.js';
import { SampleTraffic } from '../processors/telemetry/sample-traffic.js';
import {
  EMPTY_PAYLOAD,
  featureUpdateSerde,
  type TelemetryEvent,
  telemetryEventSerde,
  userSessionSerde,
} from '../schemas/index.js';
import {
  connectRedis,
  deleteKeysWithPrefix,
  RedisFeatureStore,
  RedisSessionHistory,
} from '../sinks/index.js';
import { KafkaTransport, partitionForKey, StreamsApplication } from '../topology/index.js';
import { RssSampler } from './rss-sampler.js';
import { log } from './stateless.js';

export interface FreshnessOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly redisUrl: string;
}

const TRACER_TENANT = 'freshness';
const TRACERS_PER_SECOND = 20;

const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 10) / 10;

function tracer(n: number, now: number): TelemetryEvent {
  return {
    eventId: `tracer-${process.pid}-${n}`,
    timestamp: now,
    tenantId: TRACER_TENANT,
    userId: `tracer-${process.pid}-${n}`,
    eventType: 'click',
    payload: { ...EMPTY_PAYLOAD, page: '/home', element: 'button.save' },
    metadata: { source: 'bench', version: '1' },
  };
}

export async function benchFreshness(options: FreshnessOptions) {
  const brokers = await ensureKafka();
  const rss = new RssSampler();
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const applicationId = uniqueName('bench-freshness');
  const keyPrefix = `veroai-bench-${process.pid}`;
  const registry = new Registry();
  const redis = await connectRedis(options.redisUrl);
  const features = new RedisFeatureStore({ redis, registry, keyPrefix, ttlMs: 3_600_000 });
  const sessionHistory = new RedisSessionHistory({ redis, registry, keyPrefix });
  const telemetry = telemetryEventSerde();
  const { topology, externalTopics } = firstPipelineTopology({
    serdes: { telemetry, session: userSessionSerde(), feature: featureUpdateSerde() },
    sinks: { features, sessionHistory },
  });
  const transport = new KafkaTransport({ brokers, clientId: applicationId, logger });
  await transport.ensureTopics(externalTopics);
  const input = 'raw_events';
  const partitions = (await transport.partitionCount(input))!;

  // the pipeline and the raw consumer start at the end of raw_events, not at its history
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = (await transport.endOffsets(input)).map((high, partition) => ({
    partition,
    high: String(high),
  }));
  const rawGroup = `${applicationId}-raw`;
  for (const groupId of [applicationId, rawGroup]) {
    await admin.setOffsets({
      groupId,
      topic: input,
      partitions: ends.map((o) => ({ partition: o.partition, offset: o.high })),
    });
  }
  await admin.disconnect();

  const sentAt = new Map<string, number>();
  const deliveredMs: number[] = [];
  const readableMs: number[] = [];
  const pending = new Set<string>();
  const raw = kafka.consumer({ groupId: rawGroup, maxWaitTimeInMs: 10 });
  await raw.connect();
  await raw.subscribe({ topics: [input] });
  await raw.run({
    eachMessage: async ({ message }) => {
      const key = message.key?.toString();
      const t0 = key === undefined ? undefined : sentAt.get(key);
      if (t0 !== undefined) deliveredMs.push(performance.now() - t0);
    },
  });

  const app = new StreamsApplication(topology, {
    applicationId,
    transport,
    logger,
    metricsRegistry: registry,
    commitIntervalMs: 1_000,
  });
  await app.start();
  await telemetry.prepare?.(input);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const traffic = new SampleTraffic({
    seed: 11,
    startTime: Date.now(),
    eventsPerSecond: options.rate,
    tenants: 8,
  });

  const poller = setInterval(() => {
    if (pending.size === 0) return;
    const keys = [...pending];
    void features
      .getMany(keys.map((entity) => ({ view: 'user_activity' as const, entity })))
      .then((found) => {
        const now = performance.now();
        found.forEach((stored, i) => {
          const key = keys[i]!;
          if (stored === null || !pending.delete(key)) return;
          readableMs.push(now - sentAt.get(key)!);
        });
      });
  }, 5);

  log(`producing ${options.rate} events/s for ${options.seconds} s, ${TRACERS_PER_SECOND} tracers/s`);
  const tickMs = 10;
  const ticks = (options.seconds * 1000) / tickMs;
  const started = performance.now();
  let tracers = 0;
  let produced = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick * tickMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const events = traffic.take(Math.round((options.rate * tickMs) / 1000));
    const now = Date.now();
    const messages = events.map((e) => {
      const key = traffic.key(e);
      return {
        key,
        value: telemetry.serialize({ ...e, timestamp: now }, input),
        partition: partitionForKey(Buffer.from(key), partitions, () => 0),
      };
    });
    if (tick % (1000 / tickMs / TRACERS_PER_SECOND) === 0) {
      const event = tracer(tracers++, now);
      const key = `${event.tenantId}/${event.userId}`;
      sentAt.set(key, performance.now());
      pending.add(key);
      messages.push({
        key,
        value: telemetry.serialize(event, input),
        partition: partitionForKey(Buffer.from(key), partitions, () => 0),
      });
    }
    void producer.send({ topic: input, messages }).catch((e: unknown) => log(`produce failed: ${String(e)}`));
    produced += messages.length;
  }
  const elapsed = (performance.now() - started) / 1000;
  // the last tracers get up to 30 s to arrive
  const deadline = Date.now() + 30_000;
  while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearInterval(poller);
  const lost = pending.size;
  await producer.disconnect();
  await raw.disconnect();
  await app.stop();
  await transport.close();
  await deleteKeysWithPrefix(redis, keyPrefix);
  await redis.quit();
  readableMs.sort((a, b) => a - b);
  deliveredMs.sort((a, b) => a - b);
  const p99 = percentile(readableMs, 99);
  const rawP99 = percentile(deliveredMs, 99);
  return {
    bench: 'freshness',
    events: produced,
    produced_eps: Math.round(produced / elapsed),
    tracers,
    tracers_not_readable_after_30s: lost,
    readable_p50_ms: round(percentile(readableMs, 50)),
    readable_p99_ms: round(p99),
    raw_delivery_p50_ms: round(percentile(deliveredMs, 50)),
    raw_delivery_p99_ms: round(rawP99),
    p99_ratio_to_raw: Math.round((p99 / rawP99) * 100) / 100,
    rss_mb: rss.stop(),
  };
}

/**
 * The first pipeline's saturation rate: how fast one instance works off a
 * backlog of sample telemetry (validation, de-duplication, sessions, the
 * three feature views and their Redis writes, on the local broker). The
 * backlog (`--events`, SampleTraffic at 10k events/s of event time, keyed
 * `tenant/user`) is produced to a raw topic of its own before the pipeline
 * starts; the pipeline then reads it from the start, and the bench times it
 * from its start until its group's committed offsets reach the end of every
 * topic it reads (the raw topic and its three repartition topics). In the
 * same run a plain kafkajs consumer reads the raw topic to its end: the
 * client's limit. Where the freshness bench asks how long an event takes at a
 * given rate, this one asks the rate beyond which events wait.
 */
import { Kafka, logLevel } from 'kafkajs';
import { SampleTraffic } from '../cli/sample-traffic.js';
import { ensureKafka } from '../deploy/kafka/local-broker.js';
import { telemetryEventSerde } from '../schemas/index.js';
import { deleteKeysWithPrefix } from '../sinks/index.js';
import type { StoreType } from '../topology/index.js';
import { benchName } from './bench-topics.js';
import { createFreshnessPipeline } from './freshness-pipeline.js';
import { rawConsume } from './raw-consumer.js';
import { RssSampler } from './rss-sampler.js';
import { log } from './stateless.js';

export interface PipelineDrainOptions {
  readonly events: number;
  readonly redisUrl: string;
  readonly store: StoreType;
  /** How long to wait for the pipeline to reach the end of its input before giving up. */
  readonly timeoutSeconds: number;
}

/** Event time the backlog spans per second of it: the freshness bench's 10k events/s. */
const EVENT_TIME_RATE = 10_000;

export async function benchPipelineDrain(options: PipelineDrainOptions) {
  const brokers = await ensureKafka();
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING });
  const applicationId = benchName('bench-drain');
  const input = benchName('bench-drain-raw-events');
  const pipeline = await createFreshnessPipeline({
    brokers,
    redisUrl: options.redisUrl,
    applicationId,
    keyPrefix: `veroai-bench-drain-${process.pid}`,
    store: options.store,
    rawEventsTopic: input,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    log(`producing ${options.events} sample events to ${input}`);
    const partitions = (await pipeline.transport.endOffsets(input)).length;
    const keys = await fillSampleTraffic(kafka, input, options.events);
    const rawRps = options.events / (await rawConsume(kafka, input, options.events));
    log(`raw kafkajs consumer: ${Math.round(rawRps)} records/s; starting the pipeline`);

    const rss = new RssSampler();
    const cpuBefore = process.cpuUsage();
    const joining = performance.now();
    // start() resolves once the group is joined: the time to work off the backlog is counted from there
    await pipeline.start();
    const startedAt = performance.now();
    const seconds = await untilCommittedToEnd(
      admin,
      (topic) => pipeline.transport.endOffsets(topic),
      applicationId,
      pipeline.sourceTopics,
      startedAt,
      options.timeoutSeconds,
    );
    const cpu = process.cpuUsage(cpuBefore);
    const rssMb = rss.stop();
    const eventsPerSecond = options.events / seconds;
    return {
      bench: 'pipeline-drain',
      store: options.store,
      events: options.events,
      partitions,
      distinct_keys: keys.distinct,
      hottest_key_share: Number(keys.hottestShare.toFixed(4)),
      startup_s: Number(((startedAt - joining) / 1000).toFixed(2)),
      seconds: Number(seconds.toFixed(2)),
      events_per_s: Math.round(eventsPerSecond),
      raw_consumer_rps: Math.round(rawRps),
      ratio_to_raw: Number((eventsPerSecond / rawRps).toFixed(3)),
      cpu_ms_per_1k_events: Math.round(((cpu.user + cpu.system) / options.events) * 10) / 10,
      rss_mb: rssMb,
    };
  } finally {
    await admin.disconnect();
    await deleteKeysWithPrefix(pipeline.redis, `veroai-bench-drain-${process.pid}`);
    await pipeline.close();
  }
}

/** Produces `events` sample events keyed `tenant/user`; returns how their keys spread. */
async function fillSampleTraffic(kafka: Kafka, topic: string, events: number) {
  const serde = telemetryEventSerde();
  await serde.prepare?.(topic);
  const traffic = new SampleTraffic({
    seed: 7,
    startTime: Date.now() - (events / EVENT_TIME_RATE) * 1000,
    eventsPerSecond: EVENT_TIME_RATE,
    tenants: 8,
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const perKey = new Map<string, number>();
  const inFlight: Promise<unknown>[] = [];
  const chunk = 5_000;
  for (let sent = 0; sent < events; sent += chunk) {
    const messages = traffic.take(Math.min(chunk, events - sent)).map((event) => {
      const key = traffic.key(event);
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      return { key, value: serde.serialize(event, topic) };
    });
    inFlight.push(producer.send({ topic, acks: -1, messages }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  let hottest = 0;
  for (const n of perKey.values()) hottest = Math.max(hottest, n);
  return { distinct: perKey.size, hottestShare: hottest / events };
}

/**
 * Seconds from `startedAt` until the group's committed offsets reach the end
 * of every topic it reads (`topics`: the raw topic and its repartition
 * topics, whose ends grow while the pipeline works and are reached only once
 * it is done).
 */
async function untilCommittedToEnd(
  admin: ReturnType<Kafka['admin']>,
  /** Per partition, the topic's end offset (the transport's: it retries while a new topic elects leaders). */
  endOffsets: (topic: string) => Promise<number[]>,
  groupId: string,
  topics: readonly string[],
  startedAt: number,
  timeoutSeconds: number,
): Promise<number> {
  let lastLog = performance.now();
  for (;;) {
    const now = performance.now();
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    const lag = await Promise.all(
      topics.map(async (topic) => {
        const ends = await endOffsets(topic);
        const offsets = committed.find((c) => c.topic === topic)?.partitions ?? [];
        return ends.reduce((sum, end, partition) => {
          const at = Number(offsets.find((o) => o.partition === partition)?.offset ?? -1);
          return sum + Math.max(0, end - Math.max(0, at));
        }, 0);
      }),
    );
    const total = lag.reduce((a, b) => a + b, 0);
    if (total === 0) return (now - startedAt) / 1000;
    if (now - startedAt > timeoutSeconds * 1000)
      throw new Error(`the pipeline still had ${total} records to commit after ${timeoutSeconds} s`);
    if (now - lastLog >= 10_000) {
      lastLog = now;
      log(`${((now - startedAt) / 1000).toFixed(0)} s: ${total} records not committed yet`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The freshness bench's traffic, in a process of its own (see
 * child-process.ts) so that generating and producing 10k events/s does not
 * share the event loop of the pipeline it measures: sample traffic with
 * tracer events mixed in, produced to the run's raw events topic in 10 ms ticks. Each
 * tracer's key and send time (wall clock, sub-millisecond) is reported to the
 * parent as it is sent. A plain kafkajs consumer here times when each tracer
 * is merely delivered: the client's limit.
 */
import { Kafka, logLevel } from 'kafkajs';
import { SampleTraffic } from '../cli/sample-traffic.js';
import { EMPTY_PAYLOAD, type TelemetryEvent, telemetryEventSerde } from '../schemas/index.js';
import { partitionForKey } from '../topology/index.js';
import { report, runInChild, serveJob } from './child-process.js';

export interface FreshnessLoadJob {
  readonly brokers: string[];
  readonly topic: string;
  readonly partitions: number;
  /** The group of the delivery-timing consumer; its offsets are set to the topic's end. */
  readonly rawGroup: string;
  readonly rate: number;
  /** Traffic without tracers first: the pipeline's tasks start, JIT compiles, caches fill. */
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly tracersPerSecond: number;
  readonly tracerTenant: string;
}

export interface FreshnessLoadResult {
  /** Events produced after the warm-up. */
  readonly produced: number;
  readonly tracers: number;
  readonly seconds: number;
  /** Tracer delivery latencies to the plain consumer, ms, sorted. */
  readonly deliveredMs: number[];
}

/** A tracer as reported while the load runs. */
export interface TracerSent {
  readonly key: string;
  /** `performance.timeOrigin + performance.now()` when it was handed to the producer. */
  readonly sentAt: number;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const wallClockMs = () => performance.timeOrigin + performance.now();

export const runFreshnessLoad = (job: FreshnessLoadJob, onTracer: (tracer: TracerSent) => void) =>
  runInChild<FreshnessLoadJob, FreshnessLoadResult>(
    new URL('./freshness-load.ts', import.meta.url),
    job,
    [],
    (progress) => onTracer(progress as TracerSent),
  );

function tracer(tenantId: string, n: number, now: number): TelemetryEvent {
  return {
    eventId: `tracer-${process.pid}-${n}`,
    timestamp: now,
    tenantId,
    userId: `tracer-${process.pid}-${n}`,
    eventType: 'click',
    payload: { ...EMPTY_PAYLOAD, page: '/home', element: 'button.save' },
    metadata: { source: 'bench', version: '1' },
    deployment: null,
    clientIp: null,
    userAgent: null,
  };
}

async function run(job: FreshnessLoadJob): Promise<FreshnessLoadResult> {
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers: job.brokers, logLevel: logLevel.NOTHING });
  const telemetry = telemetryEventSerde();
  await telemetry.prepare?.(job.topic);
  const sentAt = new Map<string, number>();
  const deliveredMs: number[] = [];
  const raw = kafka.consumer({ groupId: job.rawGroup, maxWaitTimeInMs: 10 });
  await raw.connect();
  await raw.subscribe({ topics: [job.topic] });
  await raw.run({
    eachMessage: async ({ message }) => {
      const key = message.key?.toString();
      const t0 = key === undefined ? undefined : sentAt.get(key);
      if (t0 !== undefined) deliveredMs.push(wallClockMs() - t0);
    },
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const traffic = new SampleTraffic({
    seed: 11,
    startTime: Date.now(),
    eventsPerSecond: job.rate,
    tenants: 8,
  });
  const tickMs = 10;
  const warmupTicks = (job.warmupSeconds * 1000) / tickMs;
  const ticks = warmupTicks + (job.seconds * 1000) / tickMs;
  const partitionOf = (key: string) => partitionForKey(Buffer.from(key), job.partitions, () => 0);
  const started = performance.now();
  let tracers = 0;
  let produced = 0;
  let measuredFrom = started;
  for (let tick = 0; tick < ticks; tick++) {
    const wait = started + tick * tickMs - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const now = Date.now();
    const messages = traffic.take(Math.round((job.rate * tickMs) / 1000)).map((e) => {
      const key = traffic.key(e);
      return {
        key,
        value: telemetry.serialize({ ...e, timestamp: now }, job.topic),
        partition: partitionOf(key),
      };
    });
    if (tick === warmupTicks) measuredFrom = performance.now();
    if (tick >= warmupTicks && tick % (1000 / tickMs / job.tracersPerSecond) === 0) {
      const event = tracer(job.tracerTenant, tracers++, now);
      const key = `${event.tenantId}/${event.userId}`;
      const at = wallClockMs();
      sentAt.set(key, at);
      report({ key, sentAt: at } satisfies TracerSent);
      messages.push({ key, value: telemetry.serialize(event, job.topic), partition: partitionOf(key) });
    }
    void producer
      .send({ topic: job.topic, messages })
      .catch((e: unknown) => process.stderr.write(`[bench] produce failed: ${String(e)}\n`));
    if (tick >= warmupTicks) produced += messages.length;
  }
  const seconds = (performance.now() - measuredFrom) / 1000;
  // the last tracers get up to 10 s to be delivered
  const deadline = Date.now() + 10_000;
  while (deliveredMs.length < tracers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await producer.disconnect();
  await raw.disconnect();
  return { produced, tracers, seconds, deliveredMs: deliveredMs.sort((a, b) => a - b) };
}

serveJob(run);

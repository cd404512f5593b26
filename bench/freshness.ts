/**
 * The freshness bench: how long from an event produced to the raw events topic until
 * its feature is readable in Redis, with the whole first pipeline running on
 * the local broker at a steady event rate. The traffic, with tracer events
 * (one user each) mixed in, comes from another process (freshness-load.ts),
 * which also times each tracer's plain kafkajs delivery: the client's limit.
 * Here a poller reads the tracers' `user_activity` hashes and times when each
 * appears.
 */
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafka } from '../deploy/kafka/local-broker.js';
import { deleteKeysWithPrefix } from '../sinks/index.js';
import type { StoreType } from '../topology/index.js';
import { benchName } from './bench-topics.js';
import { startInChild } from './child-process.js';
import { runFreshnessLoad, wallClockMs } from './freshness-load.js';
import { createFreshnessPipeline, type FreshnessPipelineOptions } from './freshness-pipeline.js';
import { percentile } from './percentile.js';
import { RssSampler } from './rss-sampler.js';
import { log } from './stateless.js';

export interface FreshnessOptions {
  readonly rate: number;
  /** Seconds of traffic before the first tracer. */
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly redisUrl: string;
  /** Instances of the pipeline's application: this process and `instances - 1` child processes. */
  readonly instances: number;
  readonly store: StoreType;
}

const TRACER_TENANT = 'freshness';
const TRACERS_PER_SECOND = 20;

const round = (ms: number) => Math.round(ms * 10) / 10;

export async function benchFreshness(options: FreshnessOptions) {
  const brokers = await ensureKafka();
  const rss = new RssSampler();
  const applicationId = benchName('bench-freshness');
  const pipelineOptions: FreshnessPipelineOptions = {
    brokers,
    redisUrl: options.redisUrl,
    applicationId,
    keyPrefix: `veroai-bench-${process.pid}`,
    store: options.store,
    rawEventsTopic: benchName('bench-freshness-raw-events'),
  };
  const input = pipelineOptions.rawEventsTopic;
  // this instance's pipeline makes the topics as its topology declares them; it starts after the others
  const pipeline = await createFreshnessPipeline(pipelineOptions);
  const { features } = pipeline;
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  // the pipeline and the raw consumer start at the end of raw_events, not at its history (the
  // transport's read retries while a topic created a moment ago still elects its leaders)
  const ends = (await pipeline.transport.endOffsets(input)).map((high, partition) => ({ partition, high }));
  const partitions = ends.length;
  const rawGroup = `${applicationId}-raw`;
  for (const groupId of [applicationId, rawGroup]) {
    await admin.setOffsets({
      groupId,
      topic: input,
      partitions: ends.map((o) => ({ partition: o.partition, offset: String(o.high) })),
    });
  }

  // more instances first, each in a process of its own; then this one, and the group settles before any traffic
  const others = Array.from({ length: options.instances - 1 }, () => {
    let running: () => void = () => undefined;
    const reported = new Promise<void>((resolve) => {
      running = resolve;
    });
    const instance = startInChild<FreshnessPipelineOptions, { stopped: true }>(
      new URL('./freshness-instance.ts', import.meta.url),
      pipelineOptions,
      [],
      () => running(),
    );
    // an instance that fails (or ends) before it runs fails the bench instead of leaving it waiting
    const ended = instance.result.then(() => {
      throw new Error('a pipeline instance ended before it ran');
    });
    return { ...instance, started: Promise.race([reported, ended]) };
  });
  await Promise.all(others.map((o) => o.started));
  await pipeline.start();
  await untilGroupStable(admin, applicationId, options.instances);
  await admin.disconnect();

  const sentAt = new Map<string, number>();
  const readableMs: number[] = [];
  const pending = new Set<string>();

  const poller = setInterval(() => {
    if (pending.size === 0) return;
    const keys = [...pending];
    void features
      .getMany(keys.map((entity) => ({ view: 'user_activity' as const, entity })))
      .then((found) => {
        const now = wallClockMs();
        found.forEach((stored, i) => {
          const key = keys[i]!;
          if (stored === null || !pending.delete(key)) return;
          readableMs.push(now - sentAt.get(key)!);
        });
      })
      // a read that timed out on a saturated machine is asked again at the next poll, 5 ms later
      .catch(() => undefined);
  }, 5);

  log(`producing ${options.rate} events/s for ${options.seconds} s, ${TRACERS_PER_SECOND} tracers/s`);
  // the CPU this process (the first instance and the poller) spends on the traffic, until the tracers are in
  const cpuBefore = process.cpuUsage();
  const loopBefore = performance.eventLoopUtilization();
  const load = await runFreshnessLoad(
    {
      brokers,
      topic: input,
      partitions,
      rawGroup,
      rate: options.rate,
      warmupSeconds: options.warmupSeconds,
      seconds: options.seconds,
      tracersPerSecond: TRACERS_PER_SECOND,
      tracerTenant: TRACER_TENANT,
    },
    ({ key, sentAt: at }) => {
      sentAt.set(key, at);
      pending.add(key);
    },
  );
  // the last tracers get up to 30 s to arrive
  const deadline = Date.now() + 30_000;
  while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearInterval(poller);
  const cpu = process.cpuUsage(cpuBefore);
  const loop = performance.eventLoopUtilization(loopBefore);
  const lost = pending.size;
  for (const other of others) other.child.send('stop');
  await Promise.all(others.map((o) => o.result));
  await deleteKeysWithPrefix(pipeline.redis, pipelineOptions.keyPrefix);
  await pipeline.close();
  readableMs.sort((a, b) => a - b);
  const { deliveredMs } = load;
  const p99 = percentile(readableMs, 99);
  const rawP99 = percentile(deliveredMs, 99);
  return {
    bench: 'freshness',
    instances: options.instances,
    store: options.store,
    warmup_seconds: options.warmupSeconds,
    events: load.produced,
    produced_eps: Math.round(load.produced / load.seconds),
    tracers: load.tracers,
    tracers_not_readable_after_30s: lost,
    readable_p50_ms: round(percentile(readableMs, 50)),
    readable_p99_ms: round(p99),
    raw_delivery_p50_ms: round(percentile(deliveredMs, 50)),
    raw_delivery_p99_ms: round(rawP99),
    p99_ratio_to_raw: Math.round((p99 / rawP99) * 100) / 100,
    // CPU of this instance per 1,000 events produced (user + system; with one instance, the pipeline's)
    instance_cpu_ms_per_1k_events: round((cpu.user + cpu.system) / load.produced),
    // the main thread's busy share (wall time); the consumer fetches again as soon as it has processed, so it
    // reads near 1 at moderate rates too: lag, or the tracers' latency, says whether the pipeline keeps up
    instance_event_loop_utilization: Math.round(loop.utilization * 100) / 100,
    rss_mb: rss.stop(),
  };
}

/** Waits until the application's group is stable with `members` members, each holding partitions. */
async function untilGroupStable(admin: ReturnType<Kafka['admin']>, groupId: string, members: number) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (group?.state === 'Stable' && group.members.length === members) return;
    if (Date.now() > deadline) throw new Error(`group ${groupId} not stable with ${members} members in 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs one bench topology in a process of its own (see child-process.ts), so
 * that its peak resident memory is its own: not the input fill's, not another
 * topology's. `rss_start_mb` is the process's RSS once everything is loaded,
 * before the topology starts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  Serdes,
  type SessionStore,
  SessionWindows,
  StreamsApplication,
  Suppressed,
  TopologyBuilder,
} from '../topology/index.js';
import { KafkaTransport } from '../topology/transports/kafka/index.js';
import { runInChild, serveJob } from './child-process.js';
import { sum, until } from './restore.js';
import { RssSampler } from './rss-sampler.js';
import { type BenchEvent, event, runTopology } from './stateless.js';

export type TopologyJob =
  | {
      readonly kind: 'session';
      /** Named by the parent, which deletes its topics when the bench ends (bench-topics.ts). */
      readonly applicationId: string;
      readonly brokers: string[];
      readonly input: string;
      readonly records: number;
      readonly gapMs: number;
      readonly graceMs: number;
      /** Event-time stretch: a user's events are `spacingMs` × 100 s apart. */
      readonly spacingMs: number;
    }
  | {
      readonly kind: 'stateless';
      readonly brokers: string[];
      readonly input: string;
      readonly output: string;
      readonly expected: number;
    };

export interface TopologyRun {
  readonly seconds: number;
  readonly rssMb: number;
  readonly rssStartMb: number;
  /** session: the sessions in the stores once the input is processed. */
  readonly openSessions?: number;
}

/** Runs `job` in a child process; a `heapMb` above 0 bounds its V8 old space (`--max-old-space-size`). */
export const runTopologyInChild = (job: TopologyJob, heapMb = 0) =>
  runInChild<TopologyJob, TopologyRun>(
    new URL('./topology-child.ts', import.meta.url),
    job,
    heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [],
  );

/** Counts each user's events in session windows on RocksDB, final counts through suppress; times it until every input is processed. */
async function runSessions(job: Extract<TopologyJob, { kind: 'session' }>, rss: RssSampler) {
  const stateDir = await mkdtemp(join(tmpdir(), 'veroai-bench-session-'));
  const origin = event(0).timestamp;
  const builder = new TopologyBuilder();
  builder
    .stream(job.input, {
      key: Serdes.string,
      value: Serdes.json<BenchEvent>(),
      timestamp: (r) => origin + (r.value.timestamp - origin) * job.spacingMs,
    })
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(job.gapMs, job.graceMs))
    .count({ name: 'sessions' })
    // final counts only: the suppress buffer holds every open session too (on RocksDB, with its index by end)
    .suppress(Suppressed.untilWindowCloses(), { name: 'session-finals' });
  const registry = new Registry();
  const transport = new KafkaTransport({ brokers: job.brokers, clientId: 'veroai-bench' });
  const app = new StreamsApplication(builder.build(), {
    applicationId: job.applicationId,
    transport,
    stateDir,
    defaultStoreType: 'rocksdb',
    logger: pino({ level: 'warn' }),
    metricsRegistry: registry,
  });
  await app.start();
  let started = 0;
  await until(async () => {
    const consumed = await sum(registry, 'veroai_records_consumed_total');
    if (started === 0 && consumed > 0) started = performance.now();
    return consumed >= job.records && !app.busy();
  });
  const seconds = (performance.now() - started) / 1000;
  const rssMb = rss.stop();
  let openSessions = 0;
  for (const { store } of app.localStores('sessions'))
    for await (const _ of (store as SessionStore<string, number>).all()) openSessions += 1;
  await app.stop();
  await transport.close();
  await rm(stateDir, { recursive: true, force: true });
  return { seconds, rssMb, openSessions };
}

serveJob<TopologyJob, TopologyRun>(async (job) => {
  const rssStartMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  const rss = new RssSampler();
  if (job.kind === 'session') return { ...(await runSessions(job, rss)), rssStartMb };
  const seconds = await runTopology(job.brokers, job.input, job.output, job.expected);
  return { seconds, rssMb: rss.stop(), rssStartMb };
});

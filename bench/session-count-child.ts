/**
 * The engine side of the session-count bench, in a process of its own (see
 * child-process.ts) so that its resident memory is its own: groupByKey →
 * session windows → count on RocksDB → suppress(untilWindowCloses) →
 * toStream → to(output). It reports its pid and the moment it starts the
 * application, then runs until the parent sends SIGTERM (input fully
 * committed) and stops cleanly. A fatal error of the application is reported
 * and fails the child.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  type ProcessingGuarantee,
  Serdes,
  SessionWindows,
  StreamsApplication,
  Suppressed,
  TopologyBuilder,
} from '../topology/index.js';
import { KafkaTransport } from '../topology/transports/kafka/index.js';
import { report, serveJob } from './child-process.js';
import { sum } from './restore.js';

export interface SessionCountJob {
  readonly brokers: string[];
  readonly input: string;
  readonly output: string;
  readonly applicationId: string;
  readonly guarantee: ProcessingGuarantee;
  readonly gapMs: number;
  readonly graceMs: number;
  /** How often the application commits (the engine's commitIntervalMs, Kafka Streams' commit.interval.ms). */
  readonly commitIntervalMs: number;
  /** Samples allocations (collected ones included) from start to stop into this .heapprofile file. */
  readonly allocationProfile?: string;
}

export interface SessionCountResult {
  /** Input records processed (the engine's metric; Kafka Streams does not report it). */
  readonly consumed?: number;
  /** Records the log acknowledged, by topic (the output, the stores' changelogs). */
  readonly produced: Record<string, number>;
  readonly late: number;
  readonly deadLettered?: number;
}

/** What the child reports on its way: its pid and start, or the fatal error that ends it. */
export type SessionCountProgress =
  | { readonly kind: 'starting'; readonly pid: number; readonly at: number }
  | { readonly kind: 'running'; readonly at: number }
  | { readonly kind: 'failed'; readonly message: string };

serveJob<SessionCountJob, SessionCountResult>(async (job) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'veroai-bench-session-count-'));
  const builder = new TopologyBuilder();
  builder
    .stream(job.input, { key: Serdes.string, value: Serdes.bytes })
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(job.gapMs, job.graceMs))
    .count({ name: 'session-counts', store: 'rocksdb' })
    .suppress(Suppressed.untilWindowCloses(), { name: 'session-finals' })
    .toStream()
    .to(job.output);
  const registry = new Registry();
  const transport = new KafkaTransport({ brokers: job.brokers, clientId: 'veroai-bench' });
  const app = new StreamsApplication(builder.build(), {
    applicationId: job.applicationId,
    transport,
    processingGuarantee: job.guarantee,
    commitIntervalMs: job.commitIntervalMs,
    stateDir,
    defaultStoreType: 'rocksdb',
    logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
    metricsRegistry: registry,
  });
  const failed = new Promise<never>((_, reject) =>
    app.once('error', (error: unknown) => {
      report({ kind: 'failed', message: String((error as Error)?.message ?? error) });
      reject(error);
    }),
  );
  const stopRequested = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  const inspector = job.allocationProfile === undefined ? undefined : new Session();
  inspector?.connect();
  await inspector?.post('HeapProfiler.startSampling', {
    samplingInterval: 64 * 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  report({ kind: 'starting', pid: process.pid, at: Date.now() } satisfies SessionCountProgress);
  await app.start();
  report({ kind: 'running', at: Date.now() } satisfies SessionCountProgress);
  await Promise.race([stopRequested, failed]);
  if (inspector !== undefined && job.allocationProfile !== undefined) {
    const { profile } = await inspector.post('HeapProfiler.stopSampling');
    await writeFile(job.allocationProfile, JSON.stringify(profile));
    inspector.disconnect();
  }
  const result: SessionCountResult = {
    consumed: await sum(registry, 'veroai_records_consumed_total'),
    produced: Object.fromEntries(
      ((await registry.getSingleMetric('veroai_records_produced_total')?.get())?.values ?? []).map((v) => [
        String(v.labels.topic).replace(`${job.applicationId}-`, ''),
        v.value,
      ]),
    ),
    late: await sum(registry, 'veroai_late_records_total'),
    deadLettered: await sum(registry, 'veroai_dlq_records_total'),
  };
  await app.stop();
  await transport.close();
  await rm(stateDir, { recursive: true, force: true });
  return result;
});

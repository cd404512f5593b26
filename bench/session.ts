/**
 * Session windows on RocksDB against the stateless topology, same input, same
 * run: 1M events over 100k users (3 partitions), counted per user in session
 * windows of a 5-minute inactivity gap: every update goes to the store's
 * changelog (1M records, as the stateless topology writes 900k). With the
 * default spacing a user's events are 400 s apart in event time, beyond the
 * gap, so every event opens a session, and the grace (one day) closes none
 * during the run: the store ends with 1M open sessions. `--spacing-ms 1` puts
 * them 100 s apart instead: 100k sessions, each merged nine times (a
 * tombstone and an update in the changelog per merge). Each topology runs in
 * a process of its own: `rss_mb` is the session process's peak RSS,
 * `rss_start_mb` what it held before its topology started. Both processes run
 * with the old space bounded to `--heap-mb` (256 by default, 0 for V8's own
 * limit), as a stream processor is deployed: the live heap holding 1M open
 * sessions is ~55 MB (they live in RocksDB), and without a bound V8 lets
 * garbage grow the heap to ~200 MB before collecting it.
 */
import { Kafka, logLevel } from 'kafkajs';
import { createTopic, ensureKafka } from '../deploy/kafka/local-broker.js';
import { benchName } from './bench-topics.js';
import { event, fill, keep, log } from './stateless.js';
import { runTopologyInChild } from './topology-child.js';

const GAP_MS = 5 * 60_000;
const GRACE_MS = 24 * 3_600_000;

export async function benchSession(options: {
  records: number;
  partitions: number;
  spacingMs: number;
  heapMb: number;
}) {
  const brokers = await ensureKafka();
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING });
  const input = benchName('bench-session-in');
  await createTopic(brokers, input, options.partitions);
  log(`filling ${input} with ${options.records} events keyed by user`);
  await fill(kafka, input, options.records, (e) => e.userId);

  log('session topology (RocksDB), in a process of its own');
  const sessions = await runTopologyInChild(
    {
      kind: 'session',
      applicationId: benchName('bench-session'),
      brokers,
      input,
      records: options.records,
      gapMs: GAP_MS,
      graceMs: GRACE_MS,
      spacingMs: options.spacingMs,
    },
    options.heapMb,
  );

  const statelessOut = benchName('bench-session-stateless-out');
  await createTopic(brokers, statelessOut, options.partitions);
  log('stateless topology, in a process of its own');
  const expected = Array.from({ length: options.records }, (_, i) => i).filter((i) => keep(event(i))).length;
  const stateless = await runTopologyInChild({
    kind: 'stateless',
    brokers,
    input,
    output: statelessOut,
    expected,
  });

  return {
    bench: 'session',
    events: options.records,
    users: Math.min(options.records, 100_000),
    partitions: options.partitions,
    spacing_ms: options.spacingMs,
    heap_limit_mb: options.heapMb > 0 ? options.heapMb : null,
    session_rps: Math.round(options.records / sessions.seconds),
    stateless_rps: Math.round(options.records / stateless.seconds),
    ratio: Number((stateless.seconds / sessions.seconds).toFixed(3)),
    rss_mb: sessions.rssMb,
    rss_start_mb: sessions.rssStartMb,
    stateless_rss_mb: stateless.rssMb,
    open_sessions: sessions.openSessions,
  };
}

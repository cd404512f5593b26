/**
 * Session windows on RocksDB against the stateless topology, same input, same
 * run: 1M events over 100k users (3 partitions), counted per user in session
 * windows of a 5-minute inactivity gap: every update goes to the store's
 * changelog (1M records, as the stateless topology writes 900k). With the default spacing a user's events are 400 s apart in event
 * time, beyond the gap, so every event opens a session, and the grace (one
 * day) closes none during the run: the store ends with 1M open sessions.
 * `--spacing-ms 1` puts them 100 s apart instead: 100k sessions, each merged
 * nine times (a tombstone and an update in the changelog per merge). RSS is
 * the process's peak while the session topology runs; `rss_before_mb` is what
 * the process held before it started (the input fill's garbage included).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createTopic, ensureKafka, uniqueName } from '../deploy/kafka/local-broker.js';
import {
  KafkaTransport,
  Serdes,
  type SessionStore,
  SessionWindows,
  StreamsApplication,
  TopologyBuilder,
} from '../topology/index.js';
import { sum, until } from './restore.js';
import { RssSampler } from './rss-sampler.js';
import { type BenchEvent, event, fill, keep, log, runTopology } from './stateless.js';

const GAP_MS = 5 * 60_000;
const GRACE_MS = 24 * 3_600_000;

export async function benchSession(options: { records: number; partitions: number; spacingMs: number }) {
  const brokers = await ensureKafka();
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING });
  const input = uniqueName('bench-session-in');
  await createTopic(brokers, input, options.partitions);
  log(`filling ${input} with ${options.records} events keyed by user`);
  await fill(kafka, input, options.records, (e) => e.userId);

  log('session topology (RocksDB)');
  const stateDir = await mkdtemp(join(tmpdir(), 'veroai-bench-session-'));
  const origin = event(0).timestamp;
  const builder = new TopologyBuilder();
  builder
    .stream(input, {
      key: Serdes.string,
      value: Serdes.json<BenchEvent>(),
      timestamp: (r) => origin + (r.value.timestamp - origin) * options.spacingMs,
    })
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(GAP_MS, GRACE_MS))
    .count({ name: 'sessions' });
  const registry = new Registry();
  const transport = new KafkaTransport({ brokers, clientId: 'veroai-bench' });
  const app = new StreamsApplication(builder.build(), {
    applicationId: uniqueName('bench-session'),
    transport,
    stateDir,
    defaultStoreType: 'rocksdb',
    logger: pino({ level: 'warn' }),
    metricsRegistry: registry,
  });
  const rssBefore = Math.round(process.memoryUsage().rss / 2 ** 20);
  const rss = new RssSampler();
  await app.start();
  let started = 0;
  await until(async () => {
    const consumed = await sum(registry, 'veroai_records_consumed_total');
    if (started === 0 && consumed > 0) started = performance.now();
    return consumed >= options.records && !app.busy();
  });
  const sessionSeconds = (performance.now() - started) / 1000;
  const rssMb = rss.stop();
  let openSessions = 0;
  for (const { store } of app.localStores('sessions'))
    for await (const _ of (store as SessionStore<string, number>).all()) openSessions += 1;
  await app.stop();
  await transport.close();
  await rm(stateDir, { recursive: true, force: true });

  // second, so that the RSS measured above is the session topology's alone
  const statelessOut = uniqueName('bench-session-stateless-out');
  await createTopic(brokers, statelessOut, options.partitions);
  log('stateless topology');
  const expected = Array.from({ length: options.records }, (_, i) => i).filter((i) => keep(event(i))).length;
  const statelessSeconds = await runTopology(brokers, input, statelessOut, expected);

  return {
    bench: 'session',
    events: options.records,
    users: Math.min(options.records, 100_000),
    partitions: options.partitions,
    spacing_ms: options.spacingMs,
    session_rps: Math.round(options.records / sessionSeconds),
    stateless_rps: Math.round(options.records / statelessSeconds),
    ratio: Number((statelessSeconds / sessionSeconds).toFixed(3)),
    rss_mb: rssMb,
    rss_before_mb: rssBefore,
    open_sessions: openSessions,
  };
}

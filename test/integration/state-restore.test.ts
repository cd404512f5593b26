/**
 * RocksDB stores on the real broker: a session count runs, stops cleanly
 * (writing its checkpoint), restarts and restores only the changelog's tail,
 * and its sessions keep counting; with the local state deleted it restores
 * the whole changelog and still continues where it was.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import {
  changelogTopic,
  type ProcessingGuarantee,
  Serdes,
  type SessionStore,
  SessionWindows,
  StreamsApplication,
  TopologyBuilder,
} from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { eventually, produce } from '../support/kafka-io.js';

const USERS = 40;
const EVENTS_PER_PHASE = 30;
const GAP_MS = 60_000;
const BASE = 1_700_000_000_000;
const STORE = 'user-sessions';

let brokers: string[];
let stateDir: string;
const running: Array<{ app: StreamsApplication; transport: KafkaTransport }> = [];

beforeAll(async () => {
  brokers = await ensureKafka();
  stateDir = await mkdtemp(join(tmpdir(), 'veroai-state-restore-'));
});

afterAll(async () => {
  for (const { app, transport } of running.splice(0)) {
    await app.stop().catch(() => undefined);
    await transport.close();
  }
  await rm(stateDir, { recursive: true, force: true });
});

const metric = async (registry: Registry, name: string) =>
  ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((sum, v) => sum + v.value, 0);

function sessionCount(input: string) {
  const builder = new TopologyBuilder();
  builder
    .stream(input, { key: Serdes.string, value: Serdes.string })
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(GAP_MS, 24 * 3_600_000))
    .count({ name: STORE });
  return builder.build();
}

/** Phase `phase`'s events: per user, one a second, continuing the user's session of earlier phases. */
function phaseEvents(phase: number) {
  const out: Array<{ key: string; value: string; timestamp: number }> = [];
  for (let j = phase * EVENTS_PER_PHASE; j < (phase + 1) * EVENTS_PER_PHASE; j++)
    for (let u = 0; u < USERS; u++) out.push({ key: `user-${u}`, value: 'e', timestamp: BASE + j * 1_000 });
  return out;
}

async function startApp(input: string, applicationId: string, guarantee: ProcessingGuarantee) {
  const registry = new Registry();
  const transport = new KafkaTransport({ brokers, clientId: applicationId });
  const app = new StreamsApplication(sessionCount(input), {
    applicationId,
    transport,
    processingGuarantee: guarantee,
    commitIntervalMs: 200,
    stateDir,
    defaultStoreType: 'rocksdb',
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    metricsRegistry: registry,
  });
  running.push({ app, transport });
  await app.start();
  return { app, registry };
}

async function stopApp(app: StreamsApplication): Promise<void> {
  const [entry] = running.splice(
    running.findIndex((r) => r.app === app),
    1,
  );
  await app.stop();
  await entry!.transport.close();
}

/** Waits until `consumed` inputs are processed and acknowledged. */
async function processed(app: StreamsApplication, registry: Registry, consumed: number): Promise<void> {
  await eventually(
    async () => (await metric(registry, 'veroai_records_consumed_total')) >= consumed && !app.busy(),
    `${consumed} input records processed`,
  );
}

/** Every user's sessions, read through the interactive query of the running application. */
async function sessionsPerUser(app: StreamsApplication) {
  const out = new Map<string, Array<{ start: number; end: number; count: number }>>();
  for (let u = 0; u < USERS; u++) {
    const key = `user-${u}`;
    const store = app.queryStore<SessionStore<string, number>>(STORE, key);
    expect(store, `the store instance holding ${key}`).toBeDefined();
    out.set(
      key,
      (await store!.fetch(key)).map(([s, count]) => ({ start: s.window.start, end: s.window.end, count })),
    );
  }
  return out;
}

/** What every user's one session holds after `phases` phases. */
const expectedAfter = (phases: number) => [
  { start: BASE, end: BASE + (phases * EVENTS_PER_PHASE - 1) * 1_000, count: phases * EVENTS_PER_PHASE },
];

async function changelogRecords(applicationId: string): Promise<number> {
  const transport = new KafkaTransport({ brokers, clientId: `${applicationId}-offsets` });
  try {
    return (await transport.endOffsets(changelogTopic(applicationId, STORE))).reduce((a, b) => a + b, 0);
  } finally {
    await transport.close();
  }
}

describe.each(['at_least_once', 'exactly_once'] as ProcessingGuarantee[])(
  'RocksDB session store restore on a real broker (%s)',
  (guarantee) => {
    it('restores only the tail after a clean stop, everything once the state is deleted, and keeps counting', async () => {
      const input = uniqueName('state-restore-in');
      const applicationId = uniqueName(`state-restore-${guarantee === 'exactly_once' ? 'eos' : 'alos'}`);
      await createTopic(brokers, input, 3);

      // phase 1: build the sessions and their changelog, then stop cleanly
      await produce(brokers, input, phaseEvents(0));
      let run = await startApp(input, applicationId, guarantee);
      await processed(run.app, run.registry, USERS * EVENTS_PER_PHASE);
      const first = await sessionsPerUser(run.app);
      for (const sessions of first.values()) expect(sessions).toEqual(expectedAfter(1));
      await stopApp(run.app);
      const taskDirectories = await readdir(join(stateDir, applicationId));
      expect(taskDirectories.sort()).toEqual(['0_0', '0_1', '0_2']);
      const changelog = await changelogRecords(applicationId);
      // each event after a user's first merges: the old session is removed (a tombstone) and the grown one
      // put; a batch logs each session once, so the changelog holds at least each user's last session and at
      // most a record per write
      expect(changelog).toBeGreaterThanOrEqual(USERS);
      expect(changelog).toBeLessThanOrEqual(USERS * (2 * EVENTS_PER_PHASE - 1));

      // phase 2: a restart restores from the checkpoint, so (almost) nothing is replayed, and counting goes on
      await produce(brokers, input, phaseEvents(1));
      run = await startApp(input, applicationId, guarantee);
      await processed(run.app, run.registry, USERS * EVENTS_PER_PHASE);
      const tailRestored = await metric(run.registry, 'veroai_restore_records_total');
      expect(tailRestored).toBeLessThan(changelog / 10);
      expect(await metric(run.registry, 'veroai_restore_remaining_records')).toBe(0);
      for (const sessions of (await sessionsPerUser(run.app)).values())
        expect(sessions).toEqual(expectedAfter(2));
      await stopApp(run.app);

      // phase 3: without local state, the whole changelog is restored and counting still goes on
      const fullChangelog = await changelogRecords(applicationId);
      await rm(join(stateDir, applicationId), { recursive: true, force: true });
      await produce(brokers, input, phaseEvents(2));
      run = await startApp(input, applicationId, guarantee);
      await processed(run.app, run.registry, USERS * EVENTS_PER_PHASE);
      const fullRestored = await metric(run.registry, 'veroai_restore_records_total');
      // read_committed skips transaction markers, which take offsets but are no records
      expect(fullRestored).toBeGreaterThan(fullChangelog / 2);
      if (guarantee === 'at_least_once') expect(fullRestored).toBe(fullChangelog);
      else expect(fullRestored).toBeLessThanOrEqual(fullChangelog);
      expect(fullRestored).toBeGreaterThan(10 * Math.max(tailRestored, 1));
      for (const sessions of (await sessionsPerUser(run.app)).values())
        expect(sessions).toEqual(expectedAfter(3));
      await stopApp(run.app);
    }, 240_000);
  },
);

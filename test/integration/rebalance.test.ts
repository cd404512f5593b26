/**
 * Rebalance test: three instances (child processes) of one stateful
 * application (session windows counted on RocksDB, suppressed until each
 * session closes) share a 6-partition input arriving as a live stream. Mid-
 * stream a fourth instance joins, one instance stops cleanly (SIGTERM) and
 * another is killed (SIGKILL); the two survivors finish the input. Then the
 * final session counts are compared with an oracle computed from the input:
 * under exactly_once (read_committed) every session of every key exactly
 * once with its exact count and nothing else; under at_least_once nothing is
 * lost (see the at_least_once case for what a replay may add).
 *
 * The input is released in sixths, each when the next step begins (a change
 * of the group, or a wait for an instance's own commit), so input arrives
 * during every change on any machine. Every wait is on a condition (a
 * "running" line, the group's membership as describeGroups reports it,
 * committed offsets, a process exit), bounded.
 * Worker logs: <tmp>/veroai-rebalance-<guarantee>-<instance>-<pid>.log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Admin, AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { seededRandom } from '../../processors/seeded-random.js';
import {
  deadLetterTopic,
  lateRecordsTopic,
  partitionForKey,
  Serdes,
  windowedSerde,
} from '../../topology/index.js';
import { groupProgress, produce, readTopic, untilCaughtUp } from '../support/kafka-io.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const worker = join(root, 'test', 'integration', 'fixtures', 'session-count-worker.ts');

const PARTITIONS = 6;
const RECORDS = 120_000;
const KEYS = 2_000;
/** Event time advances 10 ms per record: 120k records span 20 minutes. */
const STEP_MS = 10;
/**
 * A key's events are on average ~20 s apart (hot keys closer, cold ones
 * further): a 30 s gap splits most keys into many sessions, each closing
 * (end + gap + grace) a few thousand records after its last event.
 */
const GAP_MS = 30_000;
const GRACE_MS = 10_000;
// recent event times: a broker with time-based retention would delete old records within minutes
const BASE = Math.floor((Date.now() - 24 * 3_600_000) / 60_000) * 60_000;
/** Input is produced in chunks, one per PACE_MS, as a live stream. */
const CHUNK = 2_000;
const PACE_MS = 500;
const SEED = 20_240_611;

/** Bounds of the waits (a 2-core machine shared with benchmarks: generous). */
const START_MS = 120_000;
const REBALANCE_MS = 120_000;
const PROGRESS_MS = 180_000;
const EXIT_MS = 60_000;
const CATCH_UP_MS = 300_000;

interface InputRecord {
  readonly key: string;
  readonly value: string;
  readonly timestamp: number;
  readonly partition: number;
}

const partitionOf = (key: string) => partitionForKey(Buffer.from(key, 'utf8'), PARTITIONS, () => 0);

/**
 * The input: RECORDS events in event-time order over KEYS keys (skewed: some
 * keys hot, many cold), each on its key's default partition (murmur2, as a
 * keyed producer writes it and as Kafka Streams expects a grouped input).
 */
function generateInput(): InputRecord[] {
  const random = seededRandom(SEED);
  return Array.from({ length: RECORDS }, (_, i) => {
    const key = `user-${Math.floor(random() ** 1.5 * KEYS)}`;
    return { key, value: String(i), timestamp: BASE + i * STEP_MS, partition: partitionOf(key) };
  });
}

/**
 * Records far ahead in event time, one per partition, after all the input:
 * they move every task's stream time past every session's end + gap + grace,
 * so every session of the input closes. Their own sessions never close (no
 * later record), so they emit nothing.
 */
function endOfInput(last: number): InputRecord[] {
  return Array.from({ length: PARTITIONS }, (_, p) => ({
    key: `~end-${p}`,
    value: 'end',
    timestamp: last + GAP_MS + GRACE_MS + 60_000,
    partition: p,
  }));
}

const sessionId = (key: string, start: number, end: number) => `${key}@${start}..${end}`;

/**
 * The oracle, in Kafka Streams' semantics: per key, events within the gap of
 * each other (inclusive) are one session [first, last]. The input is in order
 * per key and nothing is late, so that is all there is to it.
 */
function expectedSessions(input: readonly InputRecord[]): Map<string, { count: number; partition: number }> {
  const open = new Map<string, { start: number; end: number; count: number; partition: number }>();
  const out = new Map<string, { count: number; partition: number }>();
  const close = (key: string, s: { start: number; end: number; count: number; partition: number }) =>
    out.set(sessionId(key, s.start, s.end), { count: s.count, partition: s.partition });
  for (const r of input) {
    const s = open.get(r.key);
    if (s !== undefined && r.timestamp - s.end <= GAP_MS) {
      s.end = r.timestamp;
      s.count += 1;
    } else {
      if (s !== undefined) close(r.key, s);
      open.set(r.key, { start: r.timestamp, end: r.timestamp, count: 1, partition: r.partition });
    }
  }
  for (const [key, s] of open) close(key, s);
  return out;
}

// ---------------------------------------------------------------------------------------------
// instances

type Expectation = 'alive' | 'stopping' | 'killed';

interface Instance {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  readonly running: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Records consumed, as last reported. */
  consumed: number;
  expectation: Expectation;
}

let brokers: string[];
let admin: Admin;
const instances: Instance[] = [];
const stateDirs: string[] = [];

beforeAll(async () => {
  brokers = await ensureKafka();
  admin = new Kafka({ clientId: 'veroai-rebalance-test', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});
afterEach(() => {
  for (const i of instances)
    if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
  instances.length = 0;
});
afterAll(async () => {
  await admin?.disconnect();
  for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
});

async function startInstance(
  name: string,
  env: Record<string, string>,
  guarantee: string,
): Promise<Instance> {
  const stateDir = await mkdtemp(join(tmpdir(), `veroai-rebalance-${name}-`));
  stateDirs.push(stateDir);
  const child = spawn(process.execPath, ['--import', 'tsx', worker], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', ...env, INSTANCE: name, STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = join(tmpdir(), `veroai-rebalance-${guarantee}-${name}-${child.pid}.log`);
  // the worker's JSON log, kept for a failure's investigation
  child.stderr!.pipe(createWriteStream(log));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const instance: Instance = {
    name,
    child,
    log,
    exited,
    consumed: 0,
    expectation: 'alive',
    running: new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        if (text.includes('running')) resolve();
        const all = [...text.matchAll(/consumed (\d+)/g)];
        if (all.length > 0) instance.consumed = Number(all[all.length - 1]![1]);
      });
      void exited.then(({ code, signal }) =>
        reject(new Error(`instance ${name} exited (${code ?? signal}) before running; log: ${log}`)),
      );
    }),
  };
  instance.running.catch(() => undefined);
  instances.push(instance);
  return instance;
}

/** Fails when an instance that should be running has exited: the test says which, and where its log is. */
function checkAlive(): void {
  for (const i of instances) {
    if (i.expectation !== 'alive') continue;
    if (i.child.exitCode !== null || i.child.signalCode !== null)
      throw new Error(
        `instance ${i.name} exited unexpectedly (${i.child.exitCode ?? i.child.signalCode}); log: ${i.log}`,
      );
  }
}

async function within<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns a value; fails after the timeout (or as soon as an instance dies). */
async function until<T>(
  check: () => Promise<T | undefined>,
  what: () => string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    checkAlive();
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function exit(instance: Instance, signal: NodeJS.Signals) {
  instance.expectation = signal === 'SIGKILL' ? 'killed' : 'stopping';
  instance.child.kill(signal);
  return within(instance.exited, EXIT_MS, `instance ${instance.name} to exit after ${signal}`);
}

// ---------------------------------------------------------------------------------------------
// the group

interface Membership {
  readonly state: string;
  /** Instance name → the input partitions it owns. */
  readonly members: ReadonlyMap<string, readonly number[]>;
}

async function describeGroup(groupId: string, input: string): Promise<Membership> {
  const {
    groups: [group],
  } = await admin.describeGroups([groupId]);
  const members = new Map<string, number[]>();
  for (const m of group?.members ?? []) {
    const decoded =
      m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
    members.set(
      m.clientId.replace(/^rebalance-/, ''),
      [...(decoded?.assignment[input] ?? [])].sort((x, y) => x - y),
    );
  }
  return { state: group?.state ?? 'Unknown', members };
}

const describeMembership = (m: Membership | undefined) =>
  m === undefined
    ? 'nothing yet'
    : `${m.state} [${[...m.members].map(([name, ps]) => `${name}: ${ps.join(',')}`).join('; ')}]`;

/** Waits until the group is stable with exactly `names` as members, all 6 partitions assigned among them. */
async function untilMembers(groupId: string, input: string, names: readonly string[]): Promise<Membership> {
  let last: Membership | undefined;
  return until(
    async () => {
      last = await describeGroup(groupId, input);
      const assigned = [...last.members.values()].flat();
      const ok =
        last.state === 'Stable' &&
        last.members.size === names.length &&
        names.every((n) => (last!.members.get(n)?.length ?? 0) > 0) &&
        new Set(assigned).size === PARTITIONS &&
        assigned.length === PARTITIONS;
      return ok ? last : undefined;
    },
    () => `group members ${names.join(', ')} (last seen: ${describeMembership(last)})`,
    REBALANCE_MS,
  );
}

async function committedByPartition(groupId: string, topic: string): Promise<number[]> {
  return (await groupProgress(brokers, groupId, topic)).map((p) => p.committed);
}

/**
 * Waits until the group commits progress, in the current generation, on a
 * partition `owner` owns: the owner's own commit (no one else owns it now).
 * `started` runs once the starting point is read (it releases more input).
 */
async function untilOwnerCommits(
  groupId: string,
  input: string,
  owner: string,
  membership: Membership,
  started: () => void,
): Promise<{ partition: number; from: number; to: number }> {
  const owned = membership.members.get(owner) ?? [];
  const before = await committedByPartition(groupId, input);
  started();
  return until(
    async () => {
      const now = await committedByPartition(groupId, input);
      const p = owned.find((q) => (now[q] ?? -1) > Math.max(0, before[q] ?? -1));
      return p === undefined ? undefined : { partition: p, from: before[p] ?? -1, to: now[p]! };
    },
    () => `instance ${owner} to commit progress on one of partitions ${owned.join(',')}`,
    PROGRESS_MS,
  );
}

/** Watches the group in the background: every change of state or members, in order. */
function watchGroup(groupId: string, input: string) {
  const seen: Array<{ at: number; membership: Membership }> = [];
  let stopped = false;
  const started = Date.now();
  const done = (async () => {
    let previous = '';
    while (!stopped) {
      const m = await describeGroup(groupId, input).catch(() => undefined);
      if (m !== undefined) {
        const text = describeMembership(m);
        if (text !== previous) seen.push({ at: Date.now() - started, membership: m });
        previous = text;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** A promise and its resolver: a gate the feed waits at. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

// ---------------------------------------------------------------------------------------------
// the run

interface Final {
  readonly id: string;
  readonly count: number;
  readonly partition: number;
}

async function rebalanceRun(guarantee: 'exactly_once' | 'at_least_once') {
  const input = uniqueName('rebalance-in');
  const output = uniqueName('rebalance-out');
  await createTopic(brokers, input, PARTITIONS);
  await createTopic(brokers, output, PARTITIONS);
  const applicationId = uniqueName(`rebalance-${guarantee}`);
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    APPLICATION_ID: applicationId,
    INPUT: input,
    OUTPUT: output,
    PROCESSING_GUARANTEE: guarantee,
    GAP_MS: String(GAP_MS),
    GRACE_MS: String(GRACE_MS),
  };
  const records = generateInput();
  const expected = expectedSessions(records);
  /** What happened, in order, with the input produced so far at that moment. */
  const events: string[] = [];
  let produced = 0;
  /** Per partition, the input index of each of its offsets: committed offsets as places in the input. */
  const indices: number[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const [i, r] of records.entries()) indices[r.partition]!.push(i);
  const began = Date.now();
  const note = (what: string) => {
    events.push(`+${((Date.now() - began) / 1000).toFixed(1)} s: ${what} (input produced: ${produced})`);
  };
  note(`run begins at ${new Date(began).toISOString()} (${began})`);
  /** Notes a moment with the group's committed position on each partition, as an input index. */
  const noteCommitted = async (what: string) => {
    const committed = await committedByPartition(applicationId, input);
    const at = committed.map((o, p) =>
      o <= 0 ? '-' : String(indices[p]![o - 1] ?? `end+${o - indices[p]!.length}`),
    );
    note(`${what}; committed up to input ${at.map((i, p) => `p${p}:${i}`).join(' ')}`);
  };

  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startInstance(n, env, guarantee)));
  const watch = watchGroup(applicationId, input);
  try {
    await within(Promise.all([a!.running, b!.running, c!.running]), START_MS, 'instances a, b, c to run');
    const three = await untilMembers(applicationId, input, ['a', 'b', 'c']);
    note(`3 members: ${describeMembership(three)}`);

    // the live stream, in sixths: the first at once, each further one only when the next step begins (a
    // change of the group, or a wait for an instance's progress), so input keeps arriving while the group
    // changes and an instance always has input to make progress on, however fast or slow the machine
    const gates = Array.from({ length: 5 }, (_, k) => ({ from: ((k + 1) * RECORDS) / 6, gate: gate() }));
    let released = 0;
    const releaseMore = () => gates[released++]?.gate.open();
    let aborted = false;
    const feeding = (async () => {
      for (let i = 0; i < records.length && !aborted; i += CHUNK) {
        for (const g of gates) if (i >= g.from) await g.gate.opened;
        await produce(brokers, input, records.slice(i, i + CHUNK));
        produced = Math.min(records.length, i + CHUNK);
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    })();
    feeding.catch(() => undefined);
    try {
      // every instance works: every partition has a commit
      await until(
        async () =>
          (await committedByPartition(applicationId, input)).every((c) => c > 0) ? true : undefined,
        () => 'a first commit on every partition',
        PROGRESS_MS,
      );
      note('every partition committed');

      // a fourth instance joins
      releaseMore();
      const d = await startInstance('d', env, guarantee);
      await noteCommitted('d started');
      await within(d.running, START_MS, 'instance d to run');
      const four = await untilMembers(applicationId, input, ['a', 'b', 'c', 'd']);
      await noteCommitted(`4 members: ${describeMembership(four)}`);
      const progressB = await untilOwnerCommits(applicationId, input, 'b', four, releaseMore);
      note(`b committed ${progressB.from} -> ${progressB.to} on partition ${progressB.partition}`);

      // b stops cleanly
      releaseMore();
      await noteCommitted('SIGTERM b');
      const stoppedB = await exit(b!, 'SIGTERM');
      note(`b exited (${stoppedB.code ?? stoppedB.signal})`);
      expect(stoppedB, `b's clean stop; log: ${b!.log}`).toEqual({ code: 0, signal: null });
      const threeAgain = await untilMembers(applicationId, input, ['a', 'c', 'd']);
      await noteCommitted(`3 members: ${describeMembership(threeAgain)}`);
      const progressC = await untilOwnerCommits(applicationId, input, 'c', threeAgain, releaseMore);
      note(`c committed ${progressC.from} -> ${progressC.to} on partition ${progressC.partition}`);

      // c is killed
      releaseMore();
      const beforeKill = await describeGroup(applicationId, input);
      const killedPartitions = beforeKill.members.get('c') ?? [];
      await noteCommitted(`SIGKILL c (owning ${killedPartitions.join(',')}, consumed ${c!.consumed})`);
      await exit(c!, 'SIGKILL');
      const two = await untilMembers(applicationId, input, ['a', 'd']);
      await noteCommitted(`2 members: ${describeMembership(two)}`);

      await within(feeding, CATCH_UP_MS, 'the input to be produced');
      const last = records[records.length - 1]!.timestamp;
      await produce(brokers, input, endOfInput(last));
      note('input complete, end-of-input records produced');
      // done when the group has committed all the input: every final it made is written by then (under
      // exactly_once in the transaction of its offsets, under at_least_once before its offsets)
      await within(
        Promise.race([
          untilCaughtUp(brokers, applicationId, [input], CATCH_UP_MS),
          ...[a!, d].map((i) =>
            i.exited.then(({ code, signal }) => {
              throw new Error(`instance ${i.name} exited (${code ?? signal}) before the end; log: ${i.log}`);
            }),
          ),
        ]),
        CATCH_UP_MS + 10_000,
        'the group to catch up',
      );
      note('caught up');
      const outputRecords = await readTopic(brokers, output, { toEnd: true, timeoutMs: 120_000 });
      const late = await readTopic(brokers, lateRecordsTopic(applicationId), {
        toEnd: true,
        timeoutMs: 60_000,
      });
      const deadLetters = await readTopic(brokers, deadLetterTopic(applicationId), {
        toEnd: true,
        timeoutMs: 60_000,
      });
      // the survivors stop one after the other, as in a rolling shutdown: the second while the group hands
      // it the first one's partitions. Each must be a clean stop (checked after the output, so that a
      // failed stop does not hide what the output shows)
      const finalStops: Array<{
        name: string;
        code: number | null;
        signal: NodeJS.Signals | null;
        log: string;
      }> = [];
      for (const i of [a!, d]) {
        const { code, signal } = await exit(i, 'SIGTERM');
        note(`${i.name} exited (${code ?? signal})`);
        finalStops.push({ name: i.name, code, signal, log: i.log });
      }
      const keys = windowedSerde(Serdes.string);
      const finals: Final[] = [];
      for (const r of outputRecords) {
        const w = (await keys.deserialize(r.rawKey, output)) as {
          key: string;
          window: { start: number; end: number };
        };
        finals.push({
          id: sessionId(w.key, w.window.start, w.window.end),
          count: Number(r.value!.toString('utf8')),
          partition: partitionOf(w.key),
        });
      }
      return {
        expected,
        finals,
        late: late.length,
        deadLetters: deadLetters.length,
        events,
        killedPartitions,
        finalStops,
        progress: { b: progressB, c: progressC },
        membership: watch.seen,
        logs: instances.map((i) => `${i.name}: ${i.log}`),
      };
    } finally {
      aborted = true;
      for (const g of gates) g.gate.open();
    }
  } catch (error) {
    console.info(
      `${guarantee} rebalance run failed after:\n  ${events.join('\n  ')}\nmembership seen:\n  ${watch.seen
        .map((s) => `${s.at} ms ${describeMembership(s.membership)}`)
        .join('\n  ')}\nlogs:\n  ${instances.map((i) => `${i.name}: ${i.log}`).join('\n  ')}`,
    );
    throw error;
  } finally {
    await watch.stop();
  }
}

/** Whether `sub` occurs in `list` in order (not necessarily adjacent). */
function inOrder(list: readonly number[], sub: readonly number[]): boolean {
  let next = 0;
  for (const n of list) if (n === sub[next]) next += 1;
  return next === sub.length;
}

/** The member counts of the stable generations the watcher saw, consecutive repeats collapsed. */
function stableSizes(seen: ReadonlyArray<{ membership: Membership }>): number[] {
  const out: number[] = [];
  for (const { membership } of seen) {
    if (membership.state !== 'Stable') continue;
    if (out[out.length - 1] !== membership.members.size) out.push(membership.members.size);
  }
  return out;
}

function report(guarantee: string, run: Awaited<ReturnType<typeof rebalanceRun>>): void {
  console.info(
    `${guarantee} rebalance run: ${run.finals.length} finals for ${run.expected.size} sessions\n  ${run.events.join('\n  ')}\n` +
      `stable member counts seen: ${stableSizes(run.membership).join(' -> ')}\nlogs:\n  ${run.logs.join('\n  ')}`,
  );
}

/** Compares the finals with the oracle: what is missing, extra, repeated, or counted differently. */
function compare(expected: ReadonlyMap<string, { count: number }>, finals: readonly Final[]) {
  const seen = new Map<string, number[]>();
  for (const f of finals) seen.set(f.id, [...(seen.get(f.id) ?? []), f.count]);
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  const extra = [...seen.keys()]
    .filter((id) => !expected.has(id))
    .map((id) => `${id}: ${seen.get(id)!.join(',')}`);
  const repeated = [...seen]
    .filter(([, counts]) => counts.length > 1)
    .map(([id, c]) => `${id}: ${c.join(',')}`);
  const miscounted = [...seen]
    .filter(([id, counts]) => expected.has(id) && counts.some((n) => n !== expected.get(id)!.count))
    .map(([id, counts]) => `${id}: ${counts.join(',')} (expected ${expected.get(id)!.count})`);
  return { seen, missing, extra, repeated, miscounted };
}

/**
 * Where finals differ from the oracle, per partition: how many sessions, how
 * many events counted more than once, and around which input records (by
 * index, in buckets of 5,000; sessions spanning fewer than 3,000 records
 * only, whose place is clear): which hand-over or replay they come from.
 */
function byPartition(expected: ReadonlyMap<string, { count: number }>, finals: readonly Final[]) {
  const out: Record<number, { sessions: number; surplus: number; around: Record<number, number> }> = {};
  for (const f of finals) {
    const want = expected.get(f.id)?.count;
    if (want === f.count) continue;
    const [, span] = f.id.split('@') as [string, string];
    const [start, end] = span.split('..').map((t) => (Number(t) - BASE) / STEP_MS) as [number, number];
    const p = out[f.partition] ?? { sessions: 0, surplus: 0, around: {} };
    out[f.partition] = p;
    p.sessions += 1;
    p.surplus += f.count - (want ?? 0);
    if (end - start < 3_000) {
      const bucket = Math.floor(end / 5_000) * 5_000;
      p.around[bucket] = (p.around[bucket] ?? 0) + 1;
    }
  }
  return out;
}

/** The survivors' final SIGTERMs were clean stops (exit 0). */
function expectCleanStops(
  stops: ReadonlyArray<{ name: string; code: number | null; signal: string | null; log: string }>,
) {
  for (const s of stops)
    expect({ code: s.code, signal: s.signal }, `${s.name}'s clean stop; log: ${s.log}`).toEqual({
      code: 0,
      signal: null,
    });
}

function parseSessionId(id: string): { key: string; start: number; end: number } {
  const at = id.lastIndexOf('@');
  const [start, end] = id
    .slice(at + 1)
    .split('..')
    .map(Number) as [number, number];
  return { key: id.slice(0, at), start, end };
}

describe('rebalance test: a 4th instance joins, one stops, one is killed, mid-stream', () => {
  it('exactly_once: every session final exactly once with its exact count, nothing else', async () => {
    const run = await rebalanceRun('exactly_once');
    report('exactly_once', run);
    // the group changed as intended: 3 members, then 4, then 3 (b left), then 2 (c's session expired)
    expect(inOrder(stableSizes(run.membership), [3, 4, 3, 2]), stableSizes(run.membership).join(' -> ')).toBe(
      true,
    );
    expect(run.progress.b.to).toBeGreaterThan(run.progress.b.from);
    expect(run.progress.c.to).toBeGreaterThan(run.progress.c.from);
    expect(run.late).toBe(0);
    expect(run.deadLetters).toBe(0);
    const { missing, extra, repeated, miscounted } = compare(run.expected, run.finals);
    const summary = {
      missing: missing.length,
      extra: extra.length,
      repeated: repeated.length,
      miscounted: miscounted.length,
    };
    expect(
      summary,
      `examples: missing ${missing.slice(0, 5).join('; ')} | extra ${extra.slice(0, 5).join('; ')} | repeated ${repeated
        .slice(0, 5)
        .join('; ')} | miscounted ${miscounted.slice(0, 5).join('; ')}`,
    ).toEqual({ missing: 0, extra: 0, repeated: 0, miscounted: 0 });
    expect(run.finals).toHaveLength(run.expected.size);
    expectCleanStops(run.finalStops);
  }, 900_000);

  it('at_least_once: nothing lost; counts exact wherever no instance crashed', async () => {
    const run = await rebalanceRun('at_least_once');
    report('at_least_once', run);
    expect(inOrder(stableSizes(run.membership), [3, 4, 3, 2]), stableSizes(run.membership).join(' -> ')).toBe(
      true,
    );
    expect(run.progress.b.to).toBeGreaterThan(run.progress.b.from);
    expect(run.progress.c.to).toBeGreaterThan(run.progress.c.from);
    expect(run.late).toBe(0);
    expect(run.deadLetters).toBe(0);
    const { seen, missing, extra, repeated, miscounted } = compare(run.expected, run.finals);
    console.info(
      `at_least_once: ${repeated.length} sessions repeated, ${miscounted.length} miscounted, ${extra.length} extra; c owned ${run.killedPartitions.join(',')} when killed\n` +
        `differences by partition: ${JSON.stringify(byPartition(run.expected, run.finals))}`,
    );
    // nothing is lost: every session has a final, none counts fewer events than the input has
    expect(missing, 'sessions with no final').toEqual([]);
    const short = [...seen]
      .filter(([id, counts]) => run.expected.has(id) && counts.some((n) => n < run.expected.get(id)!.count))
      .map(([id, counts]) => `${id}: ${counts.join(',')} (expected ${run.expected.get(id)!.count})`);
    expect(short.slice(0, 20), `${short.length} finals counting fewer events than the input`).toEqual([]);
    // nothing is invented: a final of a session the oracle does not have is a replay's part of a real one
    const sessionsOfKey = new Map<string, Array<{ start: number; end: number }>>();
    for (const id of run.expected.keys()) {
      const { key, start, end } = parseSessionId(id);
      sessionsOfKey.set(key, [...(sessionsOfKey.get(key) ?? []), { start, end }]);
    }
    const invented = run.finals.filter((f) => {
      if (run.expected.has(f.id)) return false;
      const { key, start, end } = parseSessionId(f.id);
      return !(sessionsOfKey.get(key) ?? []).some((s) => s.start <= start && end <= s.end);
    });
    expect(invented.slice(0, 20), `${invented.length} finals of sessions not in the input`).toEqual([]);
    // Kafka Streams' at-least-once: only a crash replays input into state restored ahead of the commit
    // (the killed instance's changelog writes outlive its uncommitted offsets), so only the partitions the
    // killed instance owned may count an event twice (or emit a replay's part of a session). Elsewhere the
    // hand-overs were clean (a member joining, one stopping, the survivors' moves): the old owner commits
    // what it processed before the new owner starts from the commit, and every final is the oracle's.
    const crashed = new Set(run.killedPartitions);
    const notCrashed = run.finals
      .filter((f) => !crashed.has(f.partition) && run.expected.get(f.id)?.count !== f.count)
      .map(
        (f) =>
          `p${f.partition} ${f.id}: ${f.count} (expected ${run.expected.get(f.id)?.count ?? 'no such session'})`,
      );
    expect(
      notCrashed.slice(0, 20),
      `${notCrashed.length} finals differ from the oracle on partitions no crash touched (a clean hand-over replayed input)`,
    ).toEqual([]);
    expectCleanStops(run.finalStops);
  }, 900_000);
});

/**
 * Broker down (issue 10, item 6). A broker of this test's own
 * (test/support/private-kafka.ts; the shared one is never stopped) goes away
 * while applications are busy on it, and comes back:
 *
 * - an outage shorter than BROKER_MAX_OUTAGE_MS (default 120 s): no process
 *   exits, readiness (`veroai run`) answers 503 naming kafka while it lasts
 *   and 200 after, and the output equals what an uninterrupted run writes,
 *   under at_least_once and exactly_once;
 * - a longer one: the processes exit 1 past the bound, `veroai run` with one
 *   line naming Kafka and the fix, their members leave the group, and a
 *   restart once the broker is back finishes the work with the output of an
 *   uninterrupted run.
 *
 * The output comparisons run on a small worker (fixtures/outage-worker.ts: a
 * windowed count, whose uninterrupted output is known exactly); readiness and
 * the exit line on the CLI itself, beside it, through the same outage.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, uniqueName } from '../../deploy/kafka/local-broker.js';
import { Serdes, windowedSerde } from '../../topology/index.js';
import { freePort } from '../support/free-port.js';
import { groupProgress, produce, readTopic, untilCaughtUp } from '../support/kafka-io.js';
import { type PrivateKafka, startPrivateKafka } from '../support/private-kafka.js';
import { WatchedProcess } from '../support/watched-process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'veroai.js');
const worker = join(root, 'test', 'integration', 'fixtures', 'outage-worker.ts');

/** BROKER_MAX_OUTAGE_MS's default, which the processes run with. */
const BOUND_MS = 120_000;
const KEYS = 40;
// recent event times: one-minute windows, 25 records per key and window
const BASE = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
const keyOf = (i: number) => `k${i % KEYS}`;
const timeOf = (i: number) => BASE + Math.floor(i / KEYS) * 2_400;

let kafka: PrivateKafka;
const children = new Set<WatchedProcess>();
/** State directories of the CLI processes, deleted at the end. */
const stateDirs: string[] = [];

/** Watches a spawned process until it exits (its whole log kept in a file, for a failure's investigation). */
function watch(name: string, child: ChildProcess): WatchedProcess {
  const watched: WatchedProcess = new WatchedProcess(child, {
    name,
    logFile: join(tmpdir(), `veroai-broker-outage-${name}-${child.pid}.log`),
    onExit: () => children.delete(watched),
  });
  children.add(watched);
  return watched;
}

/** The outage worker under a guarantee. */
function startWorker(
  name: string,
  env: {
    APPLICATION_ID: string;
    INPUT: string;
    OUTPUT: string;
    PROCESSING_GUARANTEE: string;
    REPARTITION?: string;
  },
): WatchedProcess & { consumed: () => number } {
  const child = spawn(process.execPath, ['--import', 'tsx', worker], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', KAFKA_BROKERS: kafka.brokers.join(','), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spawned = watch(name, child);
  return Object.assign(spawned, {
    consumed: () => Number([...spawned.stdout.matchAll(/consumed (\d+)/g)].at(-1)?.[1] ?? 0),
  });
}

/** `veroai run` on the private broker: its own API port, state directory and application id. */
async function startCli(
  name: string,
  guarantee: string,
): Promise<WatchedProcess & { address: string; applicationId: string }> {
  const port = await freePort();
  const applicationId = uniqueName(`outage-cli-${guarantee}`);
  const stateDir = mkdtempSync(join(tmpdir(), 'veroai-broker-outage-state-'));
  stateDirs.push(stateDir);
  const child = spawn(process.execPath, [bin, 'run'], {
    cwd: root,
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: kafka.brokers.join(','),
      PROCESSING_GUARANTEE: guarantee,
      APPLICATION_ID: applicationId,
      STATE_DIR: stateDir,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return Object.assign(watch(name, child), { address: `http://127.0.0.1:${port}`, applicationId });
}

interface Readiness {
  readonly status: number;
  readonly body: { status?: string; down?: Array<{ dependency: string; code: string; error: string }> };
}

async function readiness(address: string): Promise<Readiness | undefined> {
  try {
    const response = await fetch(`${address}/health/ready`, { signal: AbortSignal.timeout(3_000) });
    return { status: response.status, body: (await response.json()) as Readiness['body'] };
  } catch {
    return undefined;
  }
}

/** Polls readiness every 250 ms until `stop()` resolves; every answer with the time it came. */
function watchReadiness(address: string): {
  answers: Array<Readiness & { at: number }>;
  stop: () => Promise<void>;
} {
  const answers: Array<Readiness & { at: number }> = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const answer = await readiness(address);
      if (answer !== undefined) answers.push({ ...answer, at: Date.now() });
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    answers,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Waits until readiness answers 200. */
async function untilReady(cli: WatchedProcess & { address: string }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await readiness(cli.address);
    if (answer?.status === 200) return;
    if (cli.exit !== undefined)
      throw new Error(`waiting for readiness: the process exited\n${cli.describe()}`);
    if (Date.now() > deadline)
      throw new Error(`not ready after ${timeoutMs} ms: ${JSON.stringify(answer)}\n${cli.describe()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function records(from: number, to: number) {
  return Array.from({ length: to - from }, (_, j) => {
    const i = from + j;
    return { key: keyOf(i), value: String(i), timestamp: timeOf(i) };
  });
}

/** The counts an uninterrupted run ends with, per `<key>@<window start>` (keys as the worker counts them). */
function expectedCounts(total: number, repartition: boolean): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < total; i++) {
    const t = timeOf(i);
    const key = repartition ? keyOf(i).toUpperCase() : keyOf(i);
    const id = `${key}@${t - (t % 60_000)}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/**
 * Each window's updates, in the order the output topic holds them
 * (read_committed): all of them once `atLeast` have arrived and no more come.
 * The input's committed offsets do not tell when a repartitioned count is
 * done: its second sub-topology may still be reading the repartition topic.
 */
async function outputUpdates(topic: string, atLeast: number): Promise<Map<string, number[]>> {
  const output = await readTopic(kafka.brokers, topic, { atLeast, quietMs: 2_000, timeoutMs: 240_000 });
  const keys = windowedSerde(Serdes.string);
  const seen = new Map<string, number[]>();
  for (const r of output) {
    const windowed = (await keys.deserialize(r.rawKey, topic)) as { key: string; window: { start: number } };
    const id = `${windowed.key}@${windowed.window.start}`;
    const list = seen.get(id) ?? [];
    list.push(Number(r.value!.toString()));
    seen.set(id, list);
  }
  return seen;
}

/** exactly_once: every window's updates are 1..n, each once, in order: an uninterrupted run's output. */
function expectExactly(seen: Map<string, number[]>, expected: Map<string, number>): void {
  expect([...seen.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [id, n] of expected)
    expect(seen.get(id), id).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}

/** at_least_once: updates may repeat, but each window ends with the count an uninterrupted run ends with, never above. */
function expectFinalCounts(seen: Map<string, number[]>, expected: Map<string, number>): void {
  expect([...seen.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [id, n] of expected) {
    const updates = seen.get(id)!;
    expect({ id, last: updates.at(-1), max: Math.max(...updates) }).toEqual({ id, last: n, max: n });
  }
}

async function groupMembers(groupId: string): Promise<number> {
  const admin = new Kafka({
    clientId: 'veroai-outage-test',
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups[0]?.members.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** The lines a person reads on stderr: everything but the JSON log lines. */
function humanLines(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('{'));
}

/** Input records the group has not committed yet (what it was in the middle of). */
async function lag(groupId: string, topic: string): Promise<number> {
  return (await groupProgress(kafka.brokers, groupId, topic)).reduce(
    (sum, p) => sum + p.end - Math.max(0, p.committed),
    0,
  );
}

/**
 * Takes the broker away for at least `outageMs`: it is started again
 * `outageMs` after it began to stop, and answers its start-up later (5-30 s,
 * depending on how busy the machine is).
 */
async function brokerDown(): Promise<{ at: number; backAfter: (outageMs: number) => Promise<number> }> {
  // clients see it go as soon as it begins its shutdown
  const at = Date.now();
  await kafka.stop();
  return {
    at,
    backAfter: async (outageMs) => {
      const startIn = at + outageMs - Date.now();
      if (startIn > 0) await new Promise((r) => setTimeout(r, startIn));
      await kafka.start();
      console.info(`private broker: restarted in ${(kafka.lastStartMs / 1000).toFixed(1)} s`);
      return Date.now() - at;
    },
  };
}

beforeAll(async () => {
  kafka = await startPrivateKafka();
  // the CLI's own topics, and traffic for it to work on
  const env = { ...process.env, LOG_LEVEL: 'warn', KAFKA_BROKERS: kafka.brokers.join(',') };
  for (const args of [
    ['topics', 'create'],
    ['produce', '--sample', '20000'],
  ]) {
    const done = spawnSync(process.execPath, [bin, ...args], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (done.status !== 0) throw new Error(`veroai ${args.join(' ')} failed: ${done.stderr}`);
  }
}, 300_000);

afterEach(() => {
  for (const c of children) c.child.kill('SIGKILL');
});

afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  await kafka?.destroy();
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});

describe('broker down', () => {
  it('a 30 s outage mid-stream: nothing exits, readiness names kafka meanwhile, outputs equal an uninterrupted run (both guarantees)', async () => {
    const input = uniqueName('outage-in');
    const outputs = { alos: uniqueName('outage-out-alos'), eos: uniqueName('outage-out-eos') };
    for (const topic of [input, outputs.alos, outputs.eos]) await createTopic(kafka.brokers, topic, 3);
    const alos = {
      APPLICATION_ID: uniqueName('outage-alos'),
      INPUT: input,
      OUTPUT: outputs.alos,
      PROCESSING_GUARANTEE: 'at_least_once',
    };
    const eos = {
      APPLICATION_ID: uniqueName('outage-eos'),
      INPUT: input,
      OUTPUT: outputs.eos,
      PROCESSING_GUARANTEE: 'exactly_once',
      REPARTITION: '1',
    };
    await produce(kafka.brokers, input, records(0, 20_000));
    const workers = [startWorker('alos', alos), startWorker('eos', eos)];
    const cli = await startCli('cli', 'at_least_once');
    for (const w of workers) await w.until(() => w.consumed() > 0, 'records consumed', 120_000);
    await untilReady(cli, 120_000);
    // a burst of input just before the broker goes: the workers are in the middle of it when it does
    await produce(kafka.brokers, input, records(20_000, 60_000));
    let written = 60_000;
    const lagAtOutage = {
      alos: await lag(alos.APPLICATION_ID, input),
      eos: await lag(eos.APPLICATION_ID, input),
    };
    const watch = watchReadiness(cli.address);
    const outage = await brokerDown();
    const outageMs = await outage.backAfter(30_000);
    const backAt = Date.now();
    expect(outageMs).toBeGreaterThanOrEqual(30_000);
    // more input once it is back
    await produce(kafka.brokers, input, records(written, written + 10_000));
    written += 10_000;
    await untilReady(cli, 120_000);
    await watch.stop();
    for (const w of workers) expect(w.exit, w.describe()).toBeUndefined();
    for (const app of [alos, eos]) await untilCaughtUp(kafka.brokers, app.APPLICATION_ID, [input], 240_000);

    const during = watch.answers.filter((a) => a.at >= outage.at && a.at <= backAt);
    const reportedKafka = during.filter(
      (a) => a.status === 503 && a.body.down?.some((d) => d.dependency === 'kafka'),
    );
    const firstReport = reportedKafka[0]?.at;
    console.info(
      `30 s outage: broker unreachable for ${(outageMs / 1000).toFixed(1)} s; input not committed when it went: ${JSON.stringify(lagAtOutage)}; readiness named kafka ${firstReport === undefined ? 'never' : `${((firstReport - outage.at) / 1000).toFixed(1)} s after the broker went`}; ${written} inputs`,
    );
    expect(lagAtOutage.alos, 'at_least_once mid-stream').toBeGreaterThan(0);
    expect(lagAtOutage.eos, 'exactly_once mid-stream').toBeGreaterThan(0);
    expect(reportedKafka.length, JSON.stringify(during.slice(-3))).toBeGreaterThan(0);
    expect(reportedKafka[0]!.body.down!.find((d) => d.dependency === 'kafka')!.code).toBe(
      'VEROAI_ERR_KAFKA_UNREACHABLE',
    );
    // after the outage: ready again (untilReady above), and still running
    for (const p of [...workers, cli]) expect(p.exit, p.describe()).toBeUndefined();

    expectFinalCounts(await outputUpdates(outputs.alos, written), expectedCounts(written, false));
    expectExactly(await outputUpdates(outputs.eos, written), expectedCounts(written, true));

    // still ready, and a clean stop after it all
    expect((await readiness(cli.address))?.status).toBe(200);
    cli.child.kill('SIGTERM');
    expect((await cli.exitsWithin(60_000)).code, cli.describe()).toBe(0);
  }, 600_000);

  it('a 150 s outage: past BROKER_MAX_OUTAGE_MS the processes exit 1 (one line naming Kafka and the fix), leave the group; a restart finishes with the output of an uninterrupted run', async () => {
    const input = uniqueName('outage-long-in');
    const output = uniqueName('outage-long-out');
    for (const topic of [input, output]) await createTopic(kafka.brokers, topic, 3);
    // exactly_once: the restart after the outage must find the transactions the failed instance left
    // open (aborted) and continue from what was committed, with output an uninterrupted run equals exactly
    const eos = {
      APPLICATION_ID: uniqueName('outage-long-eos'),
      INPUT: input,
      OUTPUT: output,
      PROCESSING_GUARANTEE: 'exactly_once',
      REPARTITION: '1',
    };
    await produce(kafka.brokers, input, records(0, 20_000));
    const first = startWorker('eos-long', eos);
    const cli = await startCli('cli-long', 'exactly_once');
    await first.until(() => first.consumed() > 0, 'records consumed', 120_000);
    await untilReady(cli, 120_000);
    await produce(kafka.brokers, input, records(20_000, 50_000));
    const written = 50_000;
    const watch = watchReadiness(cli.address);
    const outage = await brokerDown();

    const [workerExit, cliExit] = await Promise.all([
      first.exitsWithin(BOUND_MS + 60_000),
      cli.exitsWithin(BOUND_MS + 60_000),
    ]);
    await watch.stop();
    const outageMs = await outage.backAfter(150_000);
    expect(outageMs).toBeGreaterThanOrEqual(150_000);
    console.info(
      `150 s outage: broker unreachable for ${(outageMs / 1000).toFixed(1)} s; the worker exited after ${((workerExit.at - outage.at) / 1000).toFixed(1)} s, veroai run after ${((cliExit.at - outage.at) / 1000).toFixed(1)} s`,
    );
    for (const [p, exit] of [
      [first, workerExit],
      [cli, cliExit],
    ] as const) {
      expect(exit.code, p.describe()).toBe(1);
      // not before the bound, and not long after it (the bound counts from the first failure seen)
      expect(exit.at - outage.at, p.describe()).toBeGreaterThanOrEqual(BOUND_MS);
      expect(exit.at - outage.at, p.describe()).toBeLessThanOrEqual(BOUND_MS + 40_000);
    }
    expect(first.stdout).toMatch(/fatal VEROAI_ERR_KAFKA_UNREACHABLE/);
    const last = humanLines(cli.stderr).at(-1) ?? '';
    // the cause (Kafka unreachable, for how long) and, after '; ', the fix
    expect(last, cli.describe()).toMatch(/^veroai: .*Kafka.*BROKER_MAX_OUTAGE_MS.*; .*KAFKA_BROKERS/);
    expect(cli.stderr).not.toMatch(/^\s*at .+:\d+:\d+\)?$/m);
    // readiness said so while the process still answered
    expect(
      watch.answers.some((a) => a.status === 503 && a.body.down?.some((d) => d.dependency === 'kafka')),
    ).toBe(true);

    // nothing of the failed instances stays in their groups once the broker is back (it could not be
    // told while down: their members expire with their session)
    for (const group of [eos.APPLICATION_ID, cli.applicationId]) {
      const deadline = Date.now() + 60_000;
      while ((await groupMembers(group)) > 0) {
        if (Date.now() > deadline)
          throw new Error(`group ${group} still has members 60 s after the broker is back`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // restarted: it finishes, and the output is an uninterrupted run's
    const second = startWorker('eos-long-restarted', eos);
    await untilCaughtUp(kafka.brokers, eos.APPLICATION_ID, [input], 240_000);
    expect(second.exit, second.describe()).toBeUndefined();
    expectExactly(await outputUpdates(output, written), expectedCounts(written, true));
  }, 900_000);
});

/**
 * Crash test: a windowed count over 200k records, its process killed with
 * SIGKILL at random moments and restarted. Under exactly_once the committed
 * output (read_committed) is exactly the expected updates: no duplicate, no
 * loss. Under at_least_once nothing is lost (counts may run ahead after a
 * crash: the changelog kept updates whose input offsets were not committed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { Serdes, windowedSerde } from '../../topology/index.js';
import { groupProgress, produce, readTopic, untilCaughtUp } from '../support/kafka-io.js';
import { killAllWorkers, startWorker, stopWorker } from '../support/worker-process.js';

const RECORDS = 200_000;
const KEYS = 50;
// recent event times: a broker with time-based retention would delete records from 2023 within minutes
const BASE = Math.floor((Date.now() - 24 * 3_600_000) / 60_000) * 60_000;
const keyOf = (i: number) => `k${i % KEYS}`;
// 200k records over 2 000 s of event time: 34 one-minute windows per key
const timeOf = (i: number) => BASE + i * 10;

let brokers: string[];

beforeAll(async () => {
  brokers = await ensureKafka();
});
afterAll(() => {
  killAllWorkers();
});

/** Expected count per (key, window start). */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) {
    const t = timeOf(i);
    const id = `${keyOf(i)}@${t - (t % 60_000)}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

async function crashRun(guarantee: 'exactly_once' | 'at_least_once') {
  const input = uniqueName('crash-in');
  const output = uniqueName('crash-out');
  await createTopic(brokers, input, 3);
  await createTopic(brokers, output, 3);
  const all = Array.from({ length: RECORDS }, (_, i) => ({
    key: keyOf(i),
    value: String(i),
    timestamp: timeOf(i),
  }));
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    APPLICATION_ID: uniqueName(`crash-${guarantee}`),
    INPUT: input,
    OUTPUT: output,
    PROCESSING_GUARANTEE: guarantee,
  };
  // input arrives while the workers are being killed, as a live stream would: 200k over about 40 s
  const feeding = (async () => {
    for (let i = 0; i < all.length; i += 2_500) {
      await produce(brokers, input, all.slice(i, i + 2_500));
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  let kills = 0;
  while (kills < 5) {
    const { child, busy } = startWorker('windowed-count-worker', env);
    // killed at a random moment once it works (or a while after it started, if the input is all done)
    await Promise.race([busy, new Promise((r) => setTimeout(r, 15_000))]);
    // the first instance is killed only after it committed something, so the run always shows a
    // restart continuing from committed progress, however slow the machine
    if (kills === 0) await untilCommitted(env.APPLICATION_ID, input, 120_000);
    await new Promise((r) => setTimeout(r, Math.random() * 3_000));
    await stopWorker(child, 'SIGKILL');
    kills += 1;
  }
  await feeding;
  const progress = await committedInput(env.APPLICATION_ID, input);
  const final = startWorker('windowed-count-worker', env).child;
  // done when the group has committed all the input: every update it made is written by then (under
  // at_least_once a batch's offsets are committed after its output is acknowledged). Not an output
  // record count: at_least_once repeats updates after a crash, which reach any count early
  await untilCaughtUp(brokers, env.APPLICATION_ID, [input], 360_000);
  const records = await readTopic(brokers, output, { toEnd: true, timeoutMs: 120_000 });
  await stopWorker(final, 'SIGTERM');
  const keys = windowedSerde(Serdes.string);
  const seen = new Map<string, number[]>();
  for (const r of records) {
    const windowed = (await keys.deserialize(r.rawKey, output)) as { key: string; window: { start: number } };
    const id = `${windowed.key}@${windowed.window.start}`;
    const list = seen.get(id) ?? [];
    list.push(Number(r.value!.toString()));
    seen.set(id, list);
  }
  return { kills, records, seen, expected: expectedCounts(), progress };
}

async function untilCommitted(groupId: string, topic: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await committedInput(groupId, topic)) === 0) {
    if (Date.now() > deadline) throw new Error(`group ${groupId} committed nothing in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Input records the group had committed: shows the kills happened mid-stream. */
async function committedInput(groupId: string, topic: string): Promise<number> {
  return (await groupProgress(brokers, groupId, topic)).reduce((sum, p) => sum + Math.max(0, p.committed), 0);
}

describe('crash test: SIGKILL at random moments, restart', () => {
  it('exactly_once: the committed output is exactly the expected updates, no duplicate, no loss', async () => {
    const { kills, records, seen, expected, progress } = await crashRun('exactly_once');
    expect(kills).toBeGreaterThanOrEqual(5);
    // the killed instances got part of the way: the final one continued from their transactions
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(RECORDS);
    console.info(
      `exactly_once crash run: ${kills} kills, ${progress} inputs committed before the final restart`,
    );
    expect(records).toHaveLength(RECORDS);
    expect(seen.size).toBe(expected.size);
    for (const [id, n] of expected) {
      // every update 1..n exactly once, in order within the window's partition
      expect(seen.get(id), id).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    }
  }, 900_000);

  it('at_least_once: nothing is lost across the same crashes', async () => {
    const { kills, seen, expected, records, progress } = await crashRun('at_least_once');
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(progress).toBeGreaterThan(0);
    expect(seen.size).toBe(expected.size);
    for (const [id, n] of expected) expect(Math.max(...(seen.get(id) ?? [0])), id).toBeGreaterThanOrEqual(n);
    console.info(
      `at_least_once crash run: ${records.length} updates for ${RECORDS} inputs (${records.length - RECORDS} repeated)`,
    );
  }, 900_000);
});

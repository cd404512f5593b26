/**
 * Sliding windows on the test driver, against expectations computed by hand
 * from Kafka Streams' definition: fixed-size windows with both bounds
 * inclusive, a left window [t - diff, t] per record, a right window
 * [t + 1, t + 1 + diff] once a later record falls in it.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DLQ_HEADERS,
  describeTopology,
  Serdes,
  SlidingWindows,
  Suppressed,
  type Topology,
  TopologyBuilder,
  type Windowed,
  type WindowedStoreOptions,
} from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';
import { WindowStartIndex } from '../../../topology/windows/window-start-index.js';

type StoreType = NonNullable<WindowedStoreOptions['store']>;

let driver: TestDriver | undefined;
let applicationId: string | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
  // RocksDB stores live under the application's default state folder
  if (applicationId !== undefined)
    await rm(join(tmpdir(), 'veroai-streams', applicationId), { recursive: true, force: true });
  applicationId = undefined;
});

/** A driver with an application id of its own, so that RocksDB folders never collide across tests. */
async function start(topology: Topology): Promise<TestDriver> {
  applicationId = `sliding-test-${randomBytes(4).toString('hex')}`;
  return TestDriver.create(topology, { applicationId });
}

const text = Serdes.string;
/** key, window start, window end, value, record timestamp */
type Row = [string, number, number, number | string | null, number];
const rows = (d: TestDriver, topic = 'out'): Row[] =>
  d
    .readOutput<Windowed<string>, number | string | null>(topic)
    .map((r) => [r.key.key, r.key.window.start, r.key.window.end, r.value, r.timestamp]);

function slidingCount(windows: SlidingWindows, store: StoreType, suppress = false) {
  const builder = new TopologyBuilder();
  const counts = builder
    .stream('in', { key: text, value: text })
    .groupByKey()
    .windowedBy(windows)
    .count({ name: 'counts', store });
  (suppress ? counts.suppress(Suppressed.untilWindowCloses(), { name: 'final-counts' }) : counts)
    .toStream()
    .to('out');
  return builder.build();
}

async function pipe(d: TestDriver, key: string, ...times: number[]): Promise<void> {
  for (const t of times) await d.pipeInput('in', key, `${key}@${t}`, t);
}

describe.each<StoreType>(['memory', 'rocksdb'])('sliding windows (%s store)', (store) => {
  it('creates a left window per record and a right window when a later record falls in it (the Kafka Streams example)', async () => {
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 0), store));
    await pipe(driver, 'A', 8_000);
    expect(rows(driver)).toEqual([['A', 3_000, 8_000, 1, 8_000]]);
    await pipe(driver, 'A', 9_200);
    expect(rows(driver)).toEqual([
      // 9 200 is within 5 s after 8 000: 8 000's right window now holds it
      ['A', 8_001, 13_001, 1, 9_200],
      ['A', 4_200, 9_200, 2, 9_200],
    ]);
    await pipe(driver, 'A', 12_400);
    expect(rows(driver)).toEqual([
      ['A', 8_001, 13_001, 2, 12_400],
      ['A', 9_201, 14_201, 1, 12_400],
      ['A', 7_400, 12_400, 3, 12_400],
    ]);
  });

  it('takes an out-of-order record within grace into every window that contains it, creating its right window from the later ones', async () => {
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 10_000), store));
    await pipe(driver, 'A', 10_000, 16_000);
    expect(rows(driver)).toEqual([
      ['A', 5_000, 10_000, 1, 10_000],
      // 16 000 is more than 5 s after 10 000: no right window for 10 000
      ['A', 11_000, 16_000, 1, 16_000],
    ]);
    await pipe(driver, 'A', 13_000);
    expect(rows(driver)).toEqual([
      // the window ending at 16 000 holds 13 000 too; it keeps its latest record time
      ['A', 11_000, 16_000, 2, 16_000],
      ['A', 10_001, 15_001, 1, 13_000],
      ['A', 8_000, 13_000, 2, 13_000],
      // 13 000's right window holds 16 000
      ['A', 13_001, 18_001, 1, 16_000],
    ]);
    expect(driver.readLateRecords()).toEqual([]);
  });

  it('keeps keys apart and adds a repeated timestamp to the windows it already has', async () => {
    // stream time is per task, not per key: B at 8 500 closes windows ending before 7 500
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 1_000), store));
    await pipe(driver, 'A', 8_000);
    await pipe(driver, 'B', 8_500);
    await pipe(driver, 'A', 8_000);
    expect(rows(driver)).toEqual([
      ['A', 3_000, 8_000, 1, 8_000],
      ['B', 3_500, 8_500, 1, 8_500],
      ['A', 3_000, 8_000, 2, 8_000],
    ]);
  });

  it('puts records earlier than the time difference into the shared window [0, diff], as Kafka Streams does', async () => {
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 0), store));
    await pipe(driver, 'A', 1_000, 3_000, 6_000);
    expect(rows(driver)).toEqual([
      ['A', 0, 5_000, 1, 1_000],
      ['A', 1_001, 6_001, 1, 3_000],
      ['A', 0, 5_000, 2, 3_000],
      ['A', 1_001, 6_001, 2, 6_000],
      ['A', 3_001, 8_001, 1, 6_000],
      ['A', 1_000, 6_000, 3, 6_000],
    ]);
  });

  it('sends a record whose windows have all closed to the late topic, counted, and changes nothing', async () => {
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 2_000), store));
    await pipe(driver, 'A', 10_000, 30_000);
    rows(driver);
    // stream time 30 000, grace 2 000: windows ending before 28 000 are closed; 20 000's right window ends at 25 001
    await pipe(driver, 'A', 20_000);
    expect(rows(driver)).toEqual([]);
    const late = driver.readLateRecords();
    expect(late.map((r) => r.value?.toString())).toEqual(['A@20000']);
    expect(String(late[0]!.headers[DLQ_HEADERS.errorClass])).toBe('LateRecordError');
    expect(String(late[0]!.headers[DLQ_HEADERS.errorMessage])).toMatch(
      /too late for sliding window\(s\) \[15000, 20000\]: stream time is 30000, grace 2000 ms/,
    );
    const metric = await driver.app.registry.getSingleMetric('veroai_late_records_total')?.get();
    expect(metric?.values.reduce((s, v) => s + v.value, 0)).toBe(1);
  });

  it('counts a record in its windows that are still open and reports it late for the closed one', async () => {
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 2_000), store));
    await pipe(driver, 'A', 10_000, 25_000);
    rows(driver);
    // stream time 25 000: [20 000, 25 000] is open, 21 000's own left window [16 000, 21 000] closed at 23 000
    await pipe(driver, 'A', 21_000);
    expect(rows(driver)).toEqual([
      ['A', 20_000, 25_000, 2, 25_000],
      ['A', 21_001, 26_001, 1, 25_000],
    ]);
    const late = driver.readLateRecords();
    expect(late.map((r) => r.value?.toString())).toEqual(['A@21000']);
    expect(String(late[0]!.headers[DLQ_HEADERS.errorMessage])).toMatch(/\[16000, 21000\]/);
  });

  it('aggregates and reduces with the same windows', async () => {
    const builder = new TopologyBuilder();
    const grouped = builder.stream('in', { key: text, value: text }).groupByKey({ key: text, value: text });
    const windows = SlidingWindows.ofTimeDifferenceAndGrace(5_000, 0);
    grouped
      .windowedBy(windows)
      .reduce((a, b) => `${a}+${b}`, { name: 'joined', store })
      .toStream()
      .to('joined');
    grouped
      .windowedBy(windows)
      .aggregate(
        () => [] as Array<string | null>,
        (_k, v, list) => [...list, v],
        { name: 'lists', value: Serdes.json<Array<string | null>>(), store },
      )
      .toStream()
      .mapValues((list) => (list === null ? null : list.join(',')), { value: text })
      .to('lists');
    driver = await start(builder.build());
    await pipe(driver, 'A', 8_000, 9_200, 12_400);
    expect(rows(driver, 'joined').map(([, start, end, value]) => [start, end, value])).toEqual([
      [3_000, 8_000, 'A@8000'],
      [8_001, 13_001, 'A@9200'],
      [4_200, 9_200, 'A@8000+A@9200'],
      [8_001, 13_001, 'A@9200+A@12400'],
      [9_201, 14_201, 'A@12400'],
      [7_400, 12_400, 'A@8000+A@9200+A@12400'],
    ]);
    expect(rows(driver, 'lists').map(([, start, , value]) => [start, value])).toEqual([
      [3_000, 'A@8000'],
      [8_001, 'A@9200'],
      [4_200, 'A@8000,A@9200'],
      [8_001, 'A@9200,A@12400'],
      [9_201, 'A@12400'],
      [7_400, 'A@8000,A@9200,A@12400'],
    ]);
  });

  it.each([
    { diff: 5_000, seed: 42 },
    { diff: 1_000, seed: 7 },
    { diff: 0, seed: 3 },
  ])(
    'ends with exactly the windows and counts of the definition, for shuffled input within grace (diff $diff ms)',
    async ({ diff, seed }) => {
      driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(diff, 1_000_000), store));
      const random = seeded(seed);
      // coarse times (many ties and records within diff of each other), some one millisecond off
      const input: Array<[string, number]> = Array.from({ length: 120 }, () => [
        random() < 0.5 ? 'a' : 'b',
        Math.floor(random() * 40) * 500 + (random() < 0.3 ? 1 : 0),
      ]);
      for (const [key, t] of input) await pipe(driver, key, t);
      const latest = new Map<string, number>();
      for (const [key, start, end, value] of rows(driver))
        latest.set(`${key} [${start}, ${end}]`, value as number);
      expect(Object.fromEntries([...latest].sort())).toEqual(
        Object.fromEntries([...bySlidingDefinition(input, diff)].sort()),
      );
      expect(driver.readLateRecords()).toEqual([]);
    },
  );

  it('stays exact over a long in-order stream with no grace, while windows too old to matter are forgotten', async () => {
    const diff = 1_000;
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(diff, 0), store));
    const random = seeded(11);
    let t = 5_000;
    const input: Array<[string, number]> = Array.from({ length: 300 }, () => {
      t += Math.floor(random() * 8) * 100;
      return [['a', 'b', 'c'][Math.floor(random() * 3)]!, t];
    });
    for (const [key, at] of input) await pipe(driver, key, at);
    const latest = new Map<string, number>();
    for (const [key, start, end, value] of rows(driver))
      latest.set(`${key} [${start}, ${end}]`, value as number);
    expect(Object.fromEntries([...latest].sort())).toEqual(
      Object.fromEntries([...bySlidingDefinition(input, diff)].sort()),
    );
    expect(driver.readLateRecords()).toEqual([]);
  });

  it('still creates an open right window of a record whose own windows have all closed', async () => {
    // grace 500: at stream time 6 501, [4 000, 5 000] is closed, but 5 000's right window [5 001, 6 001] is open
    driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(1_000, 500), store));
    await pipe(driver, 'A', 5_000, 6_501);
    rows(driver);
    await pipe(driver, 'A', 5_600);
    expect(rows(driver)).toEqual([
      ['A', 5_501, 6_501, 2, 6_501],
      ['A', 5_001, 6_001, 1, 5_600],
      ['A', 5_601, 6_601, 1, 6_501],
    ]);
    expect(driver.readLateRecords().map((r) => r.value?.toString())).toEqual(['A@5600']);
  });

  describe('suppress(untilWindowCloses)', () => {
    it('emits one final count per window, once stream time is past its end plus grace', async () => {
      driver = await start(slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 3_000), store, true));
      await pipe(driver, 'A', 8_000, 11_000);
      // stream time 11 000 = end + grace of [3 000, 8 000]: still open, a record at 8 000 may come
      expect(rows(driver)).toEqual([]);
      await pipe(driver, 'A', 8_000);
      expect(rows(driver)).toEqual([]);
      await pipe(driver, 'A', 11_001);
      expect(rows(driver)).toEqual([['A', 3_000, 8_000, 2, 8_000]]);
      // another key moves stream time past every window of A
      await pipe(driver, 'B', 40_000);
      expect(rows(driver)).toEqual([
        ['A', 6_000, 11_000, 3, 11_000],
        ['A', 6_001, 11_001, 4, 11_001],
        ['A', 8_001, 13_001, 2, 13_001],
        ['A', 11_001, 16_001, 1, 16_001],
      ]);
      expect(driver.readLateRecords()).toEqual([]);
    });
  });
});

describe('the window start index', () => {
  it("lists a key's starts in a range, in order, and forgets removed and too-old ones", () => {
    const index = new WindowStartIndex();
    for (const start of [30, 10, 20, 10, 40]) index.add('a', start);
    index.add('b', 15);
    expect(index.between('a', 10, 30)).toEqual([10, 20, 30]);
    expect(index.between('a', 11, 39)).toEqual([20, 30]);
    expect(index.between('b', 0, 100)).toEqual([15]);
    expect(index.between('c', 0, 100)).toEqual([]);
    index.remove('a', 20);
    expect(index.between('a', 0, 100)).toEqual([10, 30, 40]);
    index.removeStartingBefore(30);
    expect(index.between('a', 0, 100)).toEqual([30, 40]);
    expect(index.between('b', 0, 100)).toEqual([]);
  });
});

describe('SlidingWindows', () => {
  it('rejects a negative time difference or grace, naming it', () => {
    expect(() => SlidingWindows.ofTimeDifferenceAndGrace(-1, 0)).toThrow(
      /SlidingWindows time difference must be a non-negative whole number of milliseconds, got -1/,
    );
    expect(() => SlidingWindows.ofTimeDifferenceAndGrace(1_000, 1.5)).toThrow(/SlidingWindows grace/);
  });

  it('is described with its time difference, grace and changelogged store', () => {
    const text = describeTopology(
      slidingCount(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 2_000), 'memory'),
      'app',
    );
    expect(text).toMatch(/count \(sliding 5000 ms, grace 2000 ms\)/);
    expect(text).toMatch(/app-counts-changelog/);
  });
});

/** Every sliding window of each key with its count, straight from the definition. */
function bySlidingDefinition(input: ReadonlyArray<[string, number]>, diff: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const key of new Set(input.map(([k]) => k))) {
    const times = input.filter(([k]) => k === key).map(([, t]) => t);
    const count = (start: number) => times.filter((t) => t >= start && t <= start + diff).length;
    for (const t of times) {
      const left = Math.max(0, t - diff);
      out.set(`${key} [${left}, ${left + diff}]`, count(left));
      if (count(t + 1) > 0) out.set(`${key} [${t + 1}, ${t + 1 + diff}]`, count(t + 1));
    }
  }
  return out;
}

/** A small deterministic generator (mulberry32), so a failure replays. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

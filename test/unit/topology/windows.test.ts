import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DLQ_HEADERS,
  Serdes,
  SessionWindows,
  Suppressed,
  TimeWindows,
  TopologyBuilder,
  type Windowed,
} from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const text = Serdes.string;
type Row = [string, number, number, number | null];
const rows = (d: TestDriver, topic = 'out'): Row[] =>
  d
    .readOutput<Windowed<string>, number | null>(topic)
    .map((r) => [r.key.key, r.key.window.start, r.key.window.end, r.value]);

function windowedCount(windows: TimeWindows | SessionWindows, suppress = false) {
  const builder = new TopologyBuilder();
  const grouped = builder.stream('in', { key: text, value: text }).groupByKey();
  const table =
    windows.kind === 'session'
      ? grouped.windowedBy(windows).count({ name: 'counts' })
      : grouped.windowedBy(windows).count({ name: 'counts' });
  (suppress ? table.suppress(Suppressed.untilWindowCloses(), { name: 'final-counts' }) : table)
    .toStream()
    .to('out');
  return builder.build();
}

describe('tumbling and hopping windows', () => {
  it('counts per window on event time, takes out-of-order records within grace, routes later ones to the late topic', async () => {
    driver = await TestDriver.create(windowedCount(TimeWindows.ofSizeAndGrace(10_000, 5_000)));
    for (const t of [1_000, 4_000, 12_000, 3_000, 17_000, 2_000])
      await driver.pipeInput('in', 'a', `e${t}`, t);
    expect(rows(driver)).toEqual([
      ['a', 0, 10_000, 1],
      ['a', 0, 10_000, 2],
      ['a', 10_000, 20_000, 1],
      // 3_000 arrives after 12_000 but [0, 10 000) stays open until stream time 15 000
      ['a', 0, 10_000, 3],
      ['a', 10_000, 20_000, 2],
    ]);
    // 2_000 arrives at stream time 17 000: its window closed at 15 000
    const late = driver.readLateRecords();
    expect(late.map((r) => r.value?.toString())).toEqual(['e2000']);
    expect(String(late[0]!.headers[DLQ_HEADERS.errorClass])).toBe('LateRecordError');
    expect(String(late[0]!.headers[DLQ_HEADERS.errorMessage])).toMatch(
      /too late for window\(s\) \[0, 10000\).*stream time is 17000, grace 5000 ms/,
    );
    const metric = await driver.app.registry.getSingleMetric('veroai_late_records_total')?.get();
    expect(metric?.values.reduce((s, v) => s + v.value, 0)).toBe(1);
  });

  it('a hopping window puts a record in every window that covers it', async () => {
    driver = await TestDriver.create(windowedCount(TimeWindows.ofSizeAndGrace(10_000, 0).advanceBy(5_000)));
    await driver.pipeInput('in', 'a', 'x', 7_000);
    await driver.pipeInput('in', 'a', 'y', 11_000);
    expect(rows(driver)).toEqual([
      ['a', 0, 10_000, 1],
      ['a', 5_000, 15_000, 1],
      ['a', 5_000, 15_000, 2],
      ['a', 10_000, 20_000, 1],
    ]);
  });

  it('keeps keys apart', async () => {
    driver = await TestDriver.create(windowedCount(TimeWindows.ofSizeAndGrace(10_000, 0)));
    await driver.pipeInput('in', 'a', 'x', 1_000);
    await driver.pipeInput('in', 'b', 'x', 2_000);
    await driver.pipeInput('in', 'a', 'x', 3_000);
    expect(rows(driver)).toEqual([
      ['a', 0, 10_000, 1],
      ['b', 0, 10_000, 1],
      ['a', 0, 10_000, 2],
    ]);
  });

  it('rejects windows that make no sense, naming the argument', () => {
    expect(() => TimeWindows.ofSizeAndGrace(0, 0)).toThrow(/size must be a positive whole number/);
    expect(() => TimeWindows.ofSizeAndGrace(1_000, -1)).toThrow(/grace must be a non-negative/);
    expect(() => TimeWindows.ofSizeAndGrace(1_000, 0).advanceBy(2_000)).toThrow(/must not exceed the size/);
    expect(() => SessionWindows.ofInactivityGapAndGrace(0, 0)).toThrow(/inactivity gap must be a positive/);
  });
});

describe('session windows', () => {
  it('grows a session, starts a new one after the gap, and merges two sessions a record bridges, retracting them', async () => {
    // grace 5 s: with retention gap + grace, [0, 5 000] is still in the store at stream time 20 000
    driver = await TestDriver.create(windowedCount(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000)));
    for (const t of [0, 5_000, 20_000, 12_000]) await driver.pipeInput('in', 'u', 'e', t);
    expect(rows(driver)).toEqual([
      ['u', 0, 0, 1],
      ['u', 0, 0, null],
      ['u', 0, 5_000, 2],
      // 20 000 is 15 s after 5 000: more than the gap, a new session
      ['u', 20_000, 20_000, 1],
      // 12 000 is within the gap of both: one session [0, 20 000] with all four events
      ['u', 0, 5_000, null],
      ['u', 20_000, 20_000, null],
      ['u', 0, 20_000, 4],
    ]);
  });

  it('a record for a session closed beyond grace is late', async () => {
    driver = await TestDriver.create(windowedCount(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000)));
    await driver.pipeInput('in', 'u', 'e1', 0);
    await driver.pipeInput('in', 'u', 'e2', 40_000);
    // 8 000 would extend [0, 0] to [0, 8 000], which closed at 8 000 + gap + grace = 23 000 < stream time 40 000
    await driver.pipeInput('in', 'u', 'late', 8_000);
    expect(rows(driver)).toEqual([
      ['u', 0, 0, 1],
      ['u', 40_000, 40_000, 1],
    ]);
    expect(driver.readLateRecords().map((r) => r.value?.toString())).toEqual(['late']);
  });

  it('restores sessions from the changelog after a restart', async () => {
    const topology = windowedCount(SessionWindows.ofInactivityGapAndGrace(10_000, 0));
    driver = await TestDriver.create(topology);
    await driver.pipeInput('in', 'u', 'e', 0);
    await driver.pipeInput('in', 'u', 'e', 4_000);
    const changelog = driver.readRaw('test-app-counts-changelog');
    // [0,0] put, [0,0] removed (tombstone), [0,4000] put
    expect(changelog.map((r) => r.value?.toString() ?? null)).toEqual(['1', null, '2']);
  });

  for (const storeType of ['memory', 'rocksdb'] as const)
    it(`logs no tombstone for a session created and merged away within one batch (${storeType})`, async () => {
      const stateDir = await mkdtemp(join(tmpdir(), 'veroai-session-changelog-'));
      try {
        driver = await TestDriver.create(windowedCount(SessionWindows.ofInactivityGapAndGrace(10_000, 0)), {
          defaultStoreType: storeType,
          stateDir,
        });
        await driver.pipeInput('in', 'u', 'e', 0);
        // one batch: [0,4000] replaces the logged [0,0]; [6000,6000] is created, then merged into [0,8000]
        await driver.pipeInputs('in', [
          { key: 'u', value: 'e', timestamp: 4_000 },
          { key: 'v', value: 'e', timestamp: 6_000 },
          { key: 'v', value: 'e', timestamp: 8_000 },
        ]);
        const changelog = driver
          .readRaw('test-app-counts-changelog')
          .map((r) => [r.key!.toString('latin1').slice(0, 1), r.value?.toString() ?? null]);
        // as Kafka Streams' caching session store: a tombstone only for a session the changelog held
        expect(changelog).toEqual([
          ['u', '1'],
          ['u', null],
          ['u', '2'],
          ['v', '2'],
        ]);
        expect(rows(driver)).toEqual([
          ['u', 0, 0, 1],
          ['u', 0, 0, null],
          ['u', 0, 4_000, 2],
          ['v', 6_000, 6_000, 1],
          ['v', 6_000, 6_000, null],
          ['v', 6_000, 8_000, 2],
        ]);
      } finally {
        await driver?.close();
        driver = undefined;
        await rm(stateDir, { recursive: true, force: true });
      }
    });
});

describe('session windows close at end + gap + grace, as Kafka Streams closes them', () => {
  const MIN = 60_000;

  it('gap 10 min, grace 0: a@0, b@1m, a@5m, b@30m give one final for a, merged', async () => {
    driver = await TestDriver.create(
      windowedCount(SessionWindows.ofInactivityGapAndGrace(10 * MIN, 0), true),
    );
    for (const [key, t] of [
      ['a', 0],
      ['b', MIN],
      ['a', 5 * MIN],
      ['b', 30 * MIN],
    ] as const)
      await driver.pipeInput('in', key, 'e', t);
    // in closing order: b's session closes at 11m, a's at 15m
    expect(rows(driver)).toEqual([
      ['b', MIN, MIN, 1],
      ['a', 0, 5 * MIN, 2],
    ]);
    expect(driver.readLateRecords()).toEqual([]);
  });

  it('grace 0 and out-of-order input: a record within the gap of an open session merges, it is not late', async () => {
    driver = await TestDriver.create(
      windowedCount(SessionWindows.ofInactivityGapAndGrace(10 * MIN, 0), true),
    );
    // 4m arrives at stream time 12m, after [9m, 9m] ended: 9m + gap 10m is still ahead of stream time
    for (const [key, t] of [
      ['a', 9 * MIN],
      ['b', 12 * MIN],
      ['a', 4 * MIN],
      ['b', 60 * MIN],
    ] as const)
      await driver.pipeInput('in', key, 'e', t);
    expect(driver.readLateRecords()).toEqual([]);
    expect(rows(driver)).toEqual([
      ['a', 4 * MIN, 9 * MIN, 2],
      ['b', 12 * MIN, 12 * MIN, 1],
    ]);
  });

  it('where we differ on purpose: at stream time exactly end + gap + grace the session is still open, so its final comes once', async () => {
    // Kafka Streams' suppress emits [0, 0] at stream time 10m (end + gap + grace <= stream time) while its
    // aggregation still merges a@10m into it (late only once end + gap + grace < stream time): two finals.
    driver = await TestDriver.create(
      windowedCount(SessionWindows.ofInactivityGapAndGrace(10 * MIN, 0), true),
    );
    await driver.pipeInput('in', 'a', 'e', 0);
    await driver.pipeInput('in', 'b', 'e', 10 * MIN);
    expect(rows(driver)).toEqual([]);
    await driver.pipeInput('in', 'a', 'e', 10 * MIN);
    await driver.pipeInput('in', 'b', 'e', 60 * MIN);
    // both end at 10m, so they close together: in key order (as Kafka Streams' buffer, by time then key)
    expect(rows(driver)).toEqual([
      ['a', 0, 10 * MIN, 2],
      ['b', 10 * MIN, 10 * MIN, 1],
    ]);
  });
});

describe('suppress(untilWindowCloses)', () => {
  it('emits one final count per window, when stream time passes its end plus grace', async () => {
    driver = await TestDriver.create(windowedCount(TimeWindows.ofSizeAndGrace(10_000, 2_000), true));
    for (const t of [1_000, 2_000, 9_000, 10_500]) await driver.pipeInput('in', 'a', 'e', t);
    expect(rows(driver)).toEqual([]);
    await driver.pipeInput('in', 'a', 'e', 11_000);
    expect(rows(driver)).toEqual([]);
    await driver.pipeInput('in', 'a', 'e', 12_000);
    expect(rows(driver)).toEqual([['a', 0, 10_000, 3]]);
    await driver.pipeInput('in', 'b', 'e', 40_000);
    expect(rows(driver)).toEqual([['a', 10_000, 20_000, 3]]);
  });

  it('never emits a session that was merged away before it closed', async () => {
    // grace 20 s keeps [0, 5 000] open (until stream time passes 25 000) for the bridging record
    driver = await TestDriver.create(
      windowedCount(SessionWindows.ofInactivityGapAndGrace(10_000, 20_000), true),
    );
    for (const t of [0, 5_000, 20_000, 12_000]) await driver.pipeInput('in', 'u', 'e', t);
    expect(rows(driver)).toEqual([]);
    await driver.pipeInput('in', 'u', 'e', 60_000);
    expect(rows(driver)).toEqual([['u', 0, 20_000, 4]]);
  });
});

describe('suppress buffer bound', () => {
  it('fails the task when a window beyond maxRecords would be buffered (shut down when full), naming the store', async () => {
    const builder = new TopologyBuilder();
    builder
      .stream('in', { key: text, value: text })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(10_000, 60_000))
      .count({ name: 'counts' })
      .suppress(Suppressed.untilWindowCloses({ maxRecords: 2 }), { name: 'final-counts' })
      .toStream()
      .to('out');
    driver = await TestDriver.create(builder.build());
    const failed = new Promise<unknown>((resolve) => driver!.app.once('error', resolve));
    await driver.pipeInput('in', 'a', 'e', 1_000);
    await driver.pipeInput('in', 'b', 'e', 1_000);
    await driver.pipeInput('in', 'a', 'e', 2_000);
    expect(driver.app.state).toBe('running');
    await driver.pipeInput('in', 'c', 'e', 3_000).catch(() => undefined);
    expect(String(await failed)).toMatch(/final-counts.*suppress buffer is full \(2 windows open\)/);
  });

  it('rejects a maxRecords that is not a positive whole number', () => {
    expect(() => Suppressed.untilWindowCloses({ maxRecords: 0 })).toThrow(/positive whole number/);
  });
});

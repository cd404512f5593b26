/**
 * suppress(untilWindowCloses) at scale: its buffer's closing-time index lives
 * in the store (the index by window end), not in the heap, and a task
 * restored from the changelogs still emits each final once, none early, none
 * lost, checked against a brute-force replay of the semantics.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom as random } from '../../../processors/seeded-random.js';
import {
  MemoryTransport,
  numberSerde,
  partitionForKey,
  Serdes,
  SessionWindows,
  StreamsApplication,
  Suppressed,
  TopologyBuilder,
  type Windowed,
  windowedSerde,
} from '../../../topology/index.js';
import type { ProcessorContext } from '../../../topology/processor.js';
import type { PersistentStore } from '../../../topology/state/persistent-store.js';
import type { StoreType } from '../../../topology/state/store.js';
import { createTaskStore } from '../../../topology/state/task-stores.js';
import type { WindowedKeyValueStore } from '../../../topology/state/window-retention.js';
import { suppressUntilWindowCloses } from '../../../topology/windows/suppress.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'veroai-suppress-buffer-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
let counter = 0;
const freshDirectory = () => join(root, `dir-${counter++}`);

const keys = windowedSerde(Serdes.string);
const keyId = (key: Windowed<string>) =>
  (keys.serialize(key, 'finals') ?? Buffer.alloc(0)).toString('latin1');

describe('suppress buffer: its index is in the store, not in the heap', () => {
  /** A full collection, on demand (V8's own gc(), without --expose-gc on the command line). */
  function collector(): () => void {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  }

  it('holds no reference to a buffered window once its RocksDB buffer has flushed (1M open sessions fit)', async () => {
    const task = createTaskStore(
      {
        name: 'finals',
        type: 'key-value',
        keySerde: keys as never,
        valueSerde: numberSerde as never,
        changelog: true,
        storeType: 'rocksdb',
        indexedByWindowEnd: true,
      },
      {
        changelogTopic: 'app-finals-changelog',
        partition: 0,
        emit: () => undefined,
        now: () => 0,
        taskDirectory: freshDirectory(),
        defaultStoreType: 'rocksdb',
      },
    );
    await (task.persistent as PersistentStore).open();
    let streamTime = -1;
    const forwarded: unknown[] = [];
    const context = {
      getStateStore: () => task.store,
      streamTime: () => streamTime,
      forward: (r: unknown) => forwarded.push(r),
    } as unknown as ProcessorContext;
    // one day of grace: none of them closes, as in `npm run bench -- session`
    const suppress = suppressUntilWindowCloses<string, number>('finals', 86_400_000, keyId, true)(context);
    const OPEN = 5_000;
    const held: Array<WeakRef<object>> = [];
    for (let i = 0; i < OPEN; i++) {
      const t = 1_000 + i * 4;
      streamTime = t;
      const key: Windowed<string> = { key: `user-${i % 1_000}`, window: { start: t, end: t } };
      held.push(new WeakRef(key));
      await suppress.process({
        topic: 'in',
        partition: 0,
        offset: i,
        key,
        value: 1,
        timestamp: t,
        headers: {},
      });
      if (i % 500 === 499) await task.store.flush();
    }
    await task.store.flush();
    // WeakRefs made in this job stay alive until it ends
    await new Promise((resolve) => setTimeout(resolve, 0));
    collector()();
    const alive = held.filter((ref) => ref.deref() !== undefined).length;
    // before: a map entry and a heap entry per window kept all 5,000 alive
    expect(alive).toBeLessThanOrEqual(1);
    expect(forwarded).toEqual([]);
    expect(task.store.approximateEntries()).toBeGreaterThanOrEqual(OPEN - 50);
    // the processor is still in use: what it holds is still reachable from it
    streamTime = 1_000 + OPEN * 4 + 86_400_000 + 1;
    await suppress.process({
      topic: 'in',
      partition: 0,
      offset: OPEN,
      key: { key: 'late-comer', window: { start: streamTime, end: streamTime } },
      value: 1,
      timestamp: streamTime,
      headers: {},
    });
    // every window closed, in end order
    expect(forwarded).toHaveLength(OPEN);
    const ends = forwarded.map((r) => (r as { key: Windowed<string> }).key.window.end);
    expect(ends).toEqual([...ends].sort((a, b) => a - b));
    await task.store.close();
  });
});

/** A store of windowed keys indexed by window end, as suppress's buffer is, opened. */
async function windowStore(name: string, store: StoreType, changelog: boolean) {
  const task = createTaskStore(
    {
      name,
      type: 'key-value',
      keySerde: keys as never,
      valueSerde: numberSerde as never,
      changelog,
      storeType: store,
      indexedByWindowEnd: true,
    },
    {
      changelogTopic: `app-${name}-changelog`,
      partition: 0,
      emit: () => undefined,
      now: () => 0,
      taskDirectory: freshDirectory(),
      defaultStoreType: store,
    },
  );
  await (task.persistent as PersistentStore | undefined)?.open();
  return task.store as WindowedKeyValueStore<string, number>;
}

/** A window of `key` ending at `end`. */
const w = (key: string, end: number): Windowed<string> => ({ key, window: { start: end - 5, end } });

describe.each<StoreType>(['memory', 'rocksdb'])(
  'windowsFrom, the read ahead by window end (%s store)',
  (store) => {
    it('reads whole ends in order up to the limit, an end too big for it only when needed, and says where it stopped', async () => {
      const windows = await windowStore('ahead', store, false);
      // ends 10 (a, b), 20 (c), 30 (d, e, f), 40 (g); written out of order, 20 twice
      for (const [key, end] of [
        ['g', 40],
        ['e', 30],
        ['a', 10],
        ['c', 20],
        ['f', 30],
        ['b', 10],
        ['d', 30],
        ['c', 20],
      ] as const)
        windows.put(w(key, end), end);
      windows.delete(w('h', 50));
      const names = async (from: number, limit: number, needed: number) => {
        const { windows: found, until } = await windows.windowsFrom(from, limit, needed);
        return [
          found
            .map((k) => k.key)
            .sort((x, y) => (x < y ? -1 : 1))
            .join(''),
          until,
        ];
      };
      expect(await names(Number.NEGATIVE_INFINITY, 100, 0)).toEqual(['abcdefg', Number.POSITIVE_INFINITY]);
      // 10 and 20 fit in 3; 30 would not: it is left for the next read, which starts there
      expect(await names(Number.NEGATIVE_INFINITY, 3, 0)).toEqual(['abc', 30]);
      expect(await names(11, 3, 0)).toEqual(['c', 30]);
      // 30 alone holds more than 2: not read unless it ends before `needed`
      expect(await names(30, 2, 30)).toEqual(['', 30]);
      expect(await names(30, 2, 31)).toEqual(['def', 40]);
      expect(await names(31, 1, 0)).toEqual(['g', Number.POSITIVE_INFINITY]);
      expect(await names(41, 5, 0)).toEqual(['', Number.POSITIVE_INFINITY]);
      windows.delete(w('e', 30));
      expect(await names(21, 100, 0)).toEqual(['dfg', Number.POSITIVE_INFINITY]);
      await windows.close();
    });

    it('getMany reads the values of many windows at once: buffered writes, flushed ones, deleted and absent', async () => {
      const windows = await windowStore('many', store, true);
      windows.put(w('a', 10), 1);
      windows.put(w('b', 20), 2);
      windows.put(w('c', 30), 3);
      await windows.flush();
      // after the flush: b is deleted and c rewritten in the buffer, d only buffered
      windows.delete(w('b', 20));
      windows.put(w('c', 30), 33);
      windows.put(w('d', 40), 4);
      const read = [w('a', 10), w('b', 20), w('c', 30), w('d', 40), w('e', 50), w('a', 11)];
      expect(await windows.getMany(read)).toEqual([1, undefined, 33, 4, undefined, undefined]);
      await windows.flush();
      expect(await windows.getMany(read)).toEqual([1, undefined, 33, 4, undefined, undefined]);
      expect(await windows.getMany([])).toEqual([]);
      await windows.close();
    });
  },
);

/** A brute-force replay of session counting + suppress over one partition's records, in order. */
class Oracle {
  private streamTime = -1;
  private readonly sessions = new Map<string, Array<{ start: number; end: number; count: number }>>();
  /** Buffered finals by id. */
  private readonly buffered = new Map<string, { key: string; start: number; end: number; count: number }>();
  readonly emitted: string[] = [];

  constructor(
    private readonly gapMs: number,
    private readonly graceMs: number,
  ) {}

  add(key: string, t: number): void {
    this.streamTime = Math.max(this.streamTime, t);
    const own = this.sessions.get(key) ?? [];
    const overlapping = own.filter((s) => s.end >= t - this.gapMs && s.start <= t + this.gapMs);
    const merged = { start: t, end: t, count: 1 };
    for (const s of overlapping) {
      merged.start = Math.min(merged.start, s.start);
      merged.end = Math.max(merged.end, s.end);
      merged.count += s.count;
    }
    if (merged.end + this.gapMs + this.graceMs < this.streamTime) return; // late
    const id = (s: { start: number; end: number }) => `${key}@${s.start}:${s.end}`;
    for (const s of overlapping) this.buffered.delete(id(s));
    this.sessions.set(key, [...own.filter((s) => !overlapping.includes(s)), merged]);
    this.buffered.set(id(merged), { key, ...merged });
    // closed once stream time is past end + gap + grace; together: in key order
    const closed = [...this.buffered.entries()]
      .filter(([, w]) => w.end + this.gapMs + this.graceMs + 1 <= this.streamTime)
      .sort(([, a], [, b]) => a.end - b.end || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.start - b.start));
    for (const [wid, w] of closed) {
      this.buffered.delete(wid);
      this.emitted.push(`${w.key}[${w.start},${w.end}]=${w.count}`);
    }
  }
}

describe.each<StoreType>(['memory', 'rocksdb'])(
  'suppress buffer restored from its changelog (%s stores)',
  (store) => {
    // ~2,000 windows open per task at once: more than suppress reads ahead from its index (1,024)
    const KEYS = 4_000;
    const GAP = 100_000;
    // as long as the most out of order, so that no record reaches a closed session: whether the aggregation
    // still finds one (and merges into it) depends on when its retention sweep ran, which the replay leaves out
    const GRACE = 2 * GAP;
    const PARTITIONS = 2;
    const RECORDS = 20_000;
    const CHUNKS = 5;

    it('emits each final once, none early, none lost, in closing order, across restarts (20k out-of-order session updates)', async () => {
      const next = random(7);
      const input: Array<{ key: string; t: number }> = [];
      let clock = 1_000_000;
      for (let i = 0; i < RECORDS; i++) {
        clock += Math.floor(next() * 160);
        // 10 % out of order, by up to twice the gap: bridging sessions, or behind the windows that closed
        const t = next() < 0.1 ? clock - Math.floor(next() * 2 * GAP) : clock;
        input.push({ key: `k${String(Math.floor(next() * KEYS)).padStart(4, '0')}`, t });
      }
      const partitionOf = (key: string) => partitionForKey(Buffer.from(key), PARTITIONS, () => 0);
      const oracles = Array.from({ length: PARTITIONS }, () => new Oracle(GAP, GRACE));

      const transport = new MemoryTransport();
      await transport.ensureTopics([
        { name: 'in', partitions: PARTITIONS },
        // one output partition: each task's finals in the order it emitted them
        { name: 'out', partitions: 1 },
      ]);
      const builder = new TopologyBuilder();
      builder
        .stream('in', { key: Serdes.string, value: Serdes.string })
        .groupByKey()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(GAP, GRACE))
        .count({ name: 'counts', store })
        .suppress(Suppressed.untilWindowCloses(), { name: 'finals' })
        .toStream()
        .to('out');
      const topology = builder.build();
      const sameDirectory = freshDirectory();
      const output: string[][] = Array.from({ length: PARTITIONS }, () => []);
      let read = 0;
      const perChunk = RECORDS / CHUNKS;

      for (let chunk = 0; chunk < CHUNKS; chunk++) {
        const registry = new Registry();
        const app = new StreamsApplication(topology, {
          applicationId: `suppress-restore-${store}`,
          transport,
          // rocksdb: every other start from an empty directory, a full restore; else from the checkpoint
          stateDir: store === 'rocksdb' && chunk % 2 === 1 ? freshDirectory() : sameDirectory,
          defaultStoreType: store,
          logger: pino({ level: 'silent' }),
          metricsRegistry: registry,
        });
        await app.start();
        for (const { key, t } of input.slice(chunk * perChunk, (chunk + 1) * perChunk)) {
          const partition = partitionOf(key);
          oracles[partition]!.add(key, t);
          transport.log.append({
            topic: 'in',
            partition,
            key: Buffer.from(key),
            value: Buffer.from('e'),
            timestamp: t,
          });
        }
        transport.log.notify();
        const consumed = async () =>
          ((await registry.getSingleMetric('veroai_records_consumed_total')?.get())?.values ?? []).reduce(
            (s, v) => s + v.value,
            0,
          );
        while ((await consumed()) < perChunk || app.busy()) await new Promise((r) => setTimeout(r, 5));
        await app.stop();

        const end = transport.log.endOffsets('out')[0]!;
        for (const r of transport.log.read('out', 0, read, end - read)) {
          const w = keys.deserialize(r.key, 'out') as Windowed<string>;
          const final = `${w.key}[${w.window.start},${w.window.end}]=${numberSerde.deserialize(r.value, 'out')}`;
          output[partitionOf(w.key)]!.push(final);
        }
        read = end;
        for (let p = 0; p < PARTITIONS; p++)
          // what the replay emitted by now, exactly: nothing early, nothing twice, nothing lost, same order
          expect(output[p], `input partition ${p} after chunk ${chunk}`).toEqual(oracles[p]!.emitted);
      }
      const finals = output.flat();
      expect(finals.length).toBeGreaterThan(10_000);
      expect(new Set(finals).size).toBe(finals.length);
    }, 120_000);
  },
);

describe.each<StoreType>(['memory', 'rocksdb'])(
  'suppress without a promise per record (%s store)',
  (store) => {
    it('unbounded, a record that closes nothing it must read for is buffered synchronously', async () => {
      const buffer = await windowStore('sync', store, true);
      let streamTime = -1;
      const forwarded: Array<Windowed<string>> = [];
      const context = {
        getStateStore: () => buffer,
        streamTime: () => streamTime,
        forward: (r: { key: Windowed<string> }) => forwarded.push(r.key),
      } as unknown as ProcessorContext;
      const suppress = suppressUntilWindowCloses<string, number>('sync', 0, keyId, false)(context);
      const update = (key: string, end: number, time: number) => {
        streamTime = time;
        return suppress.process({
          topic: 'in',
          partition: 0,
          offset: time,
          key: w(key, end),
          value: 1,
          timestamp: time,
          headers: {},
        });
      };
      // the first record reads the buffer's index (what closes next); a promise
      const first = update('a', 100, 50);
      expect(first).toBeInstanceOf(Promise);
      await first;
      // then records that close nothing are buffered without a promise, up to the next read
      for (const [key, end, time] of [
        ['b', 200, 60],
        ['c', 300, 70],
        ['a', 100, 99],
      ] as const) {
        const result = update(key, end, time);
        expect(result instanceof Promise, `${key}@${time}`).toBe(false);
      }
      expect(forwarded).toEqual([]);
      // stream time passes a's end: a is emitted, and the index is read again for b and c
      await update('d', 400, 150);
      expect(forwarded).toEqual([w('a', 100)]);
      await buffer.close();
    });
  },
);

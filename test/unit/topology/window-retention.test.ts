/**
 * Window retention reads only what expires: every windowed store (key-value
 * stores of windowed keys and session stores, in memory and in RocksDB) keeps
 * an index by window end, so a sweep over N windows of which k expired reads
 * about k entries, not N. What a sweep deletes is checked against a brute
 * force over the windows written (the old full scan's semantics), after
 * writes, deletes, a restore from the changelog, a reopen of the RocksDB
 * files, a database written by the previous layout, and a SIGKILL.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Serdes, type Windowed, windowedSerde } from '../../../topology/index.js';
import type { StoreSpec } from '../../../topology/plan/graph.js';
import type { OutgoingRecord } from '../../../topology/record.js';
import { readInt64BE } from '../../../topology/serdes/int64.js';
import { RocksDbDatabase } from '../../../topology/state/rocksdb-database.js';
import type { SessionStore } from '../../../topology/state/session-store.js';
import type { KeyValueStore, StoreType } from '../../../topology/state/store.js';
import { createTaskStore, type TaskStore } from '../../../topology/state/task-stores.js';
import { WindowEndIndex } from '../../../topology/state/window-end-index.js';
import {
  SESSION_INDEX_MS,
  sessionIndexKey,
  sessionIndexTime,
  windowIndexKey,
} from '../../../topology/state/window-end-layout.js';
import { deleteWindowsEndedBefore } from '../../../topology/state/window-retention.js';

const TOPIC = 'window-retention-changelog';
const changelogKeys = windowedSerde(Serdes.string as never) as unknown as {
  serialize(w: Windowed<string>, topic: string): Buffer;
};
const values = Serdes.json<number>();

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'veroai-window-retention-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

let counter = 0;
const freshDirectory = () => join(root, `task-${counter++}`);

type Kind = StoreSpec['type'];
const CASES: Array<[Kind, StoreType]> = [
  ['key-value', 'memory'],
  ['key-value', 'rocksdb'],
  ['session', 'memory'],
  ['session', 'rocksdb'],
];

/** A window as the model knows it. */
interface W {
  readonly key: string;
  readonly start: number;
  readonly end: number;
}
const id = (w: W) => `${w.key}|${w.start}|${w.end}`;
const windowed = (w: W): Windowed<string> => ({ key: w.key, window: { start: w.start, end: w.end } });

/** One task's windowed store, changelogged, with what it sent to its changelog. */
class Harness {
  readonly changelog: OutgoingRecord[] = [];
  readonly target: TaskStore;

  constructor(
    readonly kind: Kind,
    readonly storeType: StoreType,
    readonly taskDirectory = freshDirectory(),
  ) {
    const spec: StoreSpec = {
      name: `windows-${kind}`,
      type: kind,
      keySerde: (kind === 'session' ? Serdes.string : windowedSerde(Serdes.string)) as never,
      valueSerde: values as never,
      changelog: true,
      storeType,
      windowRetentionMs: 1_000,
    };
    this.target = createTaskStore(spec, {
      changelogTopic: TOPIC,
      partition: 0,
      emit: (r) => this.changelog.push(r),
      now: () => 0,
      taskDirectory,
      defaultStoreType: storeType,
    });
  }

  async open(): Promise<this> {
    await this.target.persistent?.open();
    return this;
  }

  put(w: W, n: number): void {
    if (this.kind === 'session') this.sessions().put(windowed(w), n);
    else this.windows().put(windowed(w), n);
  }

  /** Reads the window (a key-value store) or its key's sessions, as an aggregation does before it writes. */
  async read(w: W): Promise<void> {
    if (this.kind === 'session') await this.sessions().fetch(w.key);
    else await this.windows().get(windowed(w));
  }

  remove(w: W): void {
    if (this.kind === 'session') this.sessions().remove(windowed(w));
    else this.windows().delete(windowed(w));
  }

  flush(): Promise<void> {
    return this.target.store.flush();
  }

  close(): Promise<void> {
    return this.target.store.close();
  }

  /** Runs a sweep as the task does, and flushes its deletes; returns how many it deleted. */
  async sweep(cutoff: number): Promise<number> {
    const deleted = await deleteWindowsEndedBefore(this.target.store, this.kind, cutoff);
    await this.flush();
    return deleted;
  }

  /** What the store holds, by window id, with values. */
  async contents(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const all = this.kind === 'session' ? this.sessions().all() : this.windows().all();
    for await (const [k, v] of all) out.set(id({ key: k.key, ...k.window }), v);
    return out;
  }

  /** The changelog's last value per windowed key (null: a tombstone). */
  lastLogged(): Map<string, Buffer | null> {
    const out = new Map<string, Buffer | null>();
    for (const r of this.changelog) out.set(r.key!.toString('latin1'), r.value);
    return out;
  }

  /**
   * Counts the entries the store reads from here on: a RocksDB store's
   * entries scanned (whole, or keys only) and keys read from disk; a memory store's entries
   * iterated (all, range) and ends and windows its index visits.
   */
  countReads(): () => number {
    if (this.storeType === 'rocksdb') {
      let reads = 0;
      const scan = RocksDbDatabase.prototype.scan;
      vi.spyOn(RocksDbDatabase.prototype, 'scan').mockImplementation(async function* (
        this: RocksDbDatabase,
        range,
      ) {
        for await (const entry of scan.call(this, range)) {
          reads += 1;
          yield entry;
        }
      });
      const keys = RocksDbDatabase.prototype.keys;
      vi.spyOn(RocksDbDatabase.prototype, 'keys').mockImplementation(async function (
        this: RocksDbDatabase,
        range,
      ) {
        const found = await keys.call(this, range);
        reads += found.length;
        return found;
      });
      const getMany = RocksDbDatabase.prototype.getMany;
      vi.spyOn(RocksDbDatabase.prototype, 'getMany').mockImplementation(function (
        this: RocksDbDatabase,
        keys,
      ) {
        reads += keys.length;
        return getMany.call(this, keys);
      });
      return () => reads;
    }
    const inner = (this.target.store as unknown as { inner: Record<string, unknown> }).inner;
    let iterated = 0;
    for (const method of ['all', 'range'] as const) {
      const original = inner[method] as (...args: unknown[]) => AsyncIterable<unknown>;
      inner[method] = async function* (...args: unknown[]) {
        for await (const entry of original.apply(inner, args)) {
          iterated += 1;
          yield entry;
        }
      };
    }
    const visits = () => (inner.sweepVisits as number | undefined) ?? 0;
    const before = visits();
    return () => iterated + visits() - before;
  }

  private sessions(): SessionStore<string, number> {
    return this.target.store as SessionStore<string, number>;
  }

  private windows(): KeyValueStore<Windowed<string>, number> {
    return this.target.store as KeyValueStore<Windowed<string>, number>;
  }
}

/** A seeded generator (mulberry32), so a failure replays. */
function random(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n);
  };
}

const MINUTE = 60_000;

/**
 * N windows over many keys, ending within 100 minutes: hopping windows (a
 * minute long, every 30 s: ends shared by many keys) for a key-value store,
 * sessions of up to 30 s for a session store.
 */
function windowsOf(kind: Kind, n: number, seed: number): W[] {
  const next = random(seed);
  const byId = new Map<string, W>();
  while (byId.size < n) {
    const key = `k${next(Math.ceil(n / 2))}`;
    const w =
      kind === 'session'
        ? ((start: number) => ({ key, start, end: start + next(30_000) }))(next(99.5 * MINUTE))
        : ((start: number) => ({ key, start, end: start + MINUTE }))(next(198) * 30_000);
    byId.set(id(w), w);
  }
  return [...byId.values()];
}

/** About 1% of the windows `windowsOf` makes end before this. */
const CUTOFF: Record<Kind, number> = { session: 1.5 * MINUTE, 'key-value': 2 * MINUTE };

/**
 * The most entries a sweep that deletes k windows may read: a RocksDB store
 * scans their k index entries (a session store: of their keys, then
 * multi-gets the keys); a memory store's index reads the expired ends, their
 * k windows and the ends next to them in its heap. A RocksDB session store
 * also reads the keys with sessions ending later in the cutoff's minute (its
 * index is by minute): `boundary`, at most one key each.
 */
const bound = (k: number, boundary: number) => 3 * k + 2 * boundary + 10;

/** The windows that end after `cutoff` in its minute: what a RocksDB session store's sweep reads in vain. */
function boundaryOf(store: Harness, model: Map<string, W>, cutoff: number): number {
  if (store.kind !== 'session' || store.storeType !== 'rocksdb') return 0;
  const minuteEnd = sessionIndexTime(Math.ceil(cutoff) - 1) + SESSION_INDEX_MS;
  return [...model.values()].filter((w) => w.end >= cutoff && w.end < minuteEnd).length;
}

/** Writes the windows (value: their position) and returns the model of what the store holds. */
function fill(store: Harness, windows: readonly W[]): Map<string, W> {
  const model = new Map<string, W>();
  windows.forEach((w, i) => {
    store.put(w, i);
    model.set(id(w), w);
  });
  return model;
}

/**
 * Sweeps at `cutoff` and checks the sweep against a brute force over the
 * model, the old full scan's semantics: it deletes the windows that ended
 * before the cutoff and no other, reading at most bound(k) entries for k
 * windows (when `costChecked`). Takes them out of the model; returns them,
 * and the entries read.
 */
async function sweepChecked(store: Harness, model: Map<string, W>, cutoff: number, costChecked = true) {
  const expired = [...model.values()].filter((w) => w.end < cutoff);
  const boundary = boundaryOf(store, model, cutoff);
  const reads = store.countReads();
  expect(await store.sweep(cutoff)).toBe(expired.length);
  const read = reads();
  vi.restoreAllMocks();
  if (costChecked) expect(read).toBeLessThanOrEqual(bound(expired.length, boundary));
  for (const w of expired) model.delete(id(w));
  expect([...(await store.contents()).keys()].sort()).toEqual([...model.keys()].sort());
  return { expired, read, boundary };
}

/** The changelog keys of windows, sorted. */
const changelogKeysOf = (windows: readonly W[]) =>
  windows.map((w) => changelogKeys.serialize(windowed(w), TOPIC).toString('latin1')).sort();

describe.each(CASES)('retention sweep of a %s store (%s)', (kind, storeType) => {
  const N = 4_000;

  it('reads about the k windows that expired, not all N, and deletes exactly them, each with a tombstone', async () => {
    const store = await new Harness(kind, storeType).open();
    const model = fill(store, windowsOf(kind, N, 1));
    await store.flush();
    const logged = store.changelog.length;
    const { expired, read } = await sweepChecked(store, model, CUTOFF[kind]);
    expect(expired.length).toBeGreaterThan(20);
    expect(expired.length).toBeLessThan(N / 20);
    expect(read).toBeGreaterThanOrEqual(expired.length);
    const tombstones = store.changelog.slice(logged);
    expect(tombstones.every((r) => r.value === null)).toBe(true);
    expect(tombstones.map((r) => r.key!.toString('latin1')).sort()).toEqual(changelogKeysOf(expired));
    // a second sweep at the same time finds nothing, and reads next to nothing
    const again = await sweepChecked(store, model, CUTOFF[kind]);
    expect(again.read).toBeLessThanOrEqual(2 + 2 * again.boundary);
    await store.close();
  });

  it('deletes what a full scan would, sweep after sweep, among puts, overwrites and deletes', async () => {
    const store = await new Harness(kind, storeType).open();
    const model = new Map<string, W>();
    const next = random(7);
    const all = windowsOf(kind, 3_000, 2).sort((a, b) => a.start - b.start);
    let written = 0;
    for (let cutoff = 5 * MINUTE; cutoff <= 105 * MINUTE; cutoff += 5 * MINUTE) {
      // windows arrive roughly in time order, as stream time moves on
      while (written < all.length && all[written]!.start < cutoff + 2 * MINUTE) {
        const w = all[written++]!;
        store.put(w, written);
        model.set(id(w), w);
      }
      const live = [...model.values()];
      for (let i = 0; i < 40 && live.length > 0; i++) {
        const w = live[next(live.length)]!;
        // a window read first is one a RocksDB store knows it has indexed
        if (next(2) === 0) await store.read(w);
        if (next(8) === 0) await store.flush();
        if (next(2) === 0) {
          store.remove(w);
          model.delete(id(w));
        } else {
          // (a window deleted a moment ago comes back)
          store.put(w, -i);
          model.set(id(w), w);
        }
      }
      // half the sweeps find writes still buffered (a RocksDB store flushes them first, reading their keys)
      const flushed = next(2) === 0;
      if (flushed) await store.flush();
      await sweepChecked(store, model, cutoff, flushed);
    }
    expect(model.size).toBe(0);
    expect(written).toBe(all.length);
    await store.close();
    if (storeType === 'rocksdb') expect(await indexMismatches(kind, store.taskDirectory)).toEqual([]);
  });

  it('after a restore from the changelog, a sweep deletes the same windows, reading only those', async () => {
    const original = await new Harness(kind, storeType).open();
    const written = windowsOf(kind, N, 3);
    const model = fill(original, written);
    await original.flush();
    for (const w of written.slice(0, N / 4)) {
      original.remove(w);
      model.delete(id(w));
    }
    await original.flush();

    const restored = await new Harness(kind, storeType).open();
    for (const r of original.changelog) await restored.target.restore(r.key, r.value);
    await restored.flush();
    const { expired } = await sweepChecked(restored, model, CUTOFF[kind]);
    expect(expired.length).toBeGreaterThan(10);
    // and the restored store's own changelog holds the tombstones of those windows
    const tombstones = [...restored.lastLogged()].filter(([, v]) => v === null).map(([k]) => k);
    expect(tombstones.sort()).toEqual(changelogKeysOf(expired));
    await original.close();
    await restored.close();
  });

  // files to reopen only a RocksDB store has: the case is defined for it alone (no skipped test)
  if (storeType === 'rocksdb')
    it('after the files are reopened, a sweep deletes the same windows, reading only those', async () => {
      const first = await new Harness(kind, storeType).open();
      const model = fill(first, windowsOf(kind, N, 4));
      // close flushes what is still buffered
      await first.close();
      const reopened = await new Harness(kind, storeType, first.taskDirectory).open();
      expect((await sweepChecked(reopened, model, CUTOFF[kind])).expired.length).toBeGreaterThan(10);
      await reopened.close();
      expect(await indexMismatches(kind, first.taskDirectory)).toEqual([]);
    });
});

/** The store's directory under its task's. */
const storeDirectory = (kind: Kind, taskDirectory: string) => join(taskDirectory, `windows-${kind}`);

/**
 * Reads a closed RocksDB windowed store's files: the index entries its data
 * calls for (key-value: one per window; sessions: one per key and minute of
 * session ends) and the index entries it has; returns those in one and not
 * the other.
 */
async function indexMismatches(kind: Kind, taskDirectory: string): Promise<string[]> {
  const db = await RocksDbDatabase.open(storeDirectory(kind, taskDirectory));
  const expected = new Set<string>();
  const found = new Set<string>();
  try {
    for await (const [key, value] of db.scan()) {
      if (key[0] === 0) found.add(key.toString('hex'));
      else if (key[0] !== 1) continue;
      else if (kind === 'key-value') expected.add(windowIndexKey(key.subarray(1)).toString('hex'));
      else
        for (let at = 0; at < value.length; at += 20 + value.readUInt32BE(at + 16)) {
          const minute = sessionIndexTime(readInt64BE(value, at + 8));
          expected.add(sessionIndexKey(key.subarray(1), minute).toString('hex'));
        }
    }
  } finally {
    await db.close();
  }
  return [
    ...[...expected].filter((k) => !found.has(k)).map((k) => `missing ${k}`),
    ...[...found].filter((k) => !expected.has(k)).map((k) => `stale ${k}`),
  ];
}

describe.each(['key-value', 'session'] as Kind[])(
  'a RocksDB %s store written by the previous layout',
  (kind) => {
    it('is indexed when opened, then swept like a new one', async () => {
      const taskDirectory = freshDirectory();
      const written = windowsOf(kind, 2_000, 5);
      if (kind === 'key-value') {
        // the previous layout: each window under its bare windowed key
        const db = await RocksDbDatabase.open(storeDirectory(kind, taskDirectory));
        await db.write(
          written.map((w, i) => ({
            type: 'put' as const,
            key: changelogKeys.serialize(windowed(w), TOPIC),
            value: values.serialize(i, TOPIC)!,
          })),
        );
        await db.close();
      } else {
        // the previous layout: the same data, without index entries or layout mark
        const store = await new Harness(kind, 'rocksdb', taskDirectory).open();
        fill(store, written);
        await store.close();
        const db = await RocksDbDatabase.open(storeDirectory(kind, taskDirectory));
        const added: Buffer[] = [];
        for await (const [key] of db.scan()) if (key[0] !== 1) added.push(key);
        await db.write(added.map((key) => ({ type: 'del' as const, key })));
        await db.close();
      }
      const model = new Map(written.map((w) => [id(w), w]));
      const store = await new Harness(kind, 'rocksdb', taskDirectory).open();
      expect((await store.contents()).size).toBe(written.length);
      expect((await sweepChecked(store, model, CUTOFF[kind])).expired.length).toBeGreaterThan(5);
      await store.close();
      expect(await indexMismatches(kind, taskDirectory)).toEqual([]);
    });
  },
);

describe('RocksDB windowed stores killed while writing (SIGKILL)', () => {
  const writer = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'window-store-writer.ts');

  it.each(['key-value', 'session'] as Kind[])(
    '%s: the files hold an index entry for every window and none for a window they lack',
    async (kind) => {
      const taskDirectory = freshDirectory();
      const child = spawn(process.execPath, ['--import', 'tsx', writer], {
        env: { ...process.env, TASK_DIRECTORY: taskDirectory, STORE_KIND: kind },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      // killed in the middle of its writes: once it has flushed a few batches, at no particular point
      await new Promise<void>((resolve, reject) => {
        let output = '';
        child.once('exit', (code) => reject(new Error(`the writer exited on its own (${code})`)));
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if ((output.match(/flushed/g) ?? []).length >= 5) resolve();
        });
      });
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      expect(await indexMismatches(kind, taskDirectory)).toEqual([]);
      const store = await new Harness(kind, 'rocksdb', taskDirectory).open();
      const contents = await store.contents();
      expect(contents.size).toBeGreaterThan(0);
      const cutoff = 50 * MINUTE;
      const expired = [...contents.keys()].filter((k) => Number(k.split('|')[2]) < cutoff);
      expect(await store.sweep(cutoff)).toBe(expired.length);
      expect((await store.contents()).size).toBe(contents.size - expired.length);
      await store.close();
    },
  );
});

describe('the in-memory window-end index', () => {
  it('returns by end the items ended before a cutoff, visiting only them and the ends left behind', () => {
    const index = new WindowEndIndex<string>();
    const model = new Map<string, number>();
    const next = random(11);
    for (let i = 0; i < 20_000; i++) {
      const end = next(100_000);
      index.add(end, `w${i}`);
      model.set(`w${i}`, end);
    }
    // sessions merging: an item leaves its end for a later one
    for (let i = 0; i < 5_000; i++) {
      const item = `w${next(20_000)}`;
      const end = model.get(item)!;
      index.remove(end, item);
      index.add(end + 1_000, item);
      model.set(item, end + 1_000);
    }
    for (const cutoff of [100, 5_000, 5_000, 50_000, 200_000]) {
      const before = index.visited;
      const found = index.endedBefore(cutoff);
      const expected = [...model].filter(([, end]) => end < cutoff);
      expect(found.sort()).toEqual(expected.map(([item]) => item).sort());
      expect(index.visited - before).toBeLessThanOrEqual(3 * expected.length + 1);
      for (const [item, end] of expected) {
        index.remove(end, item);
        model.delete(item);
      }
    }
    expect(model.size).toBe(0);
  });
});

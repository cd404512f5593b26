import { isPromise } from '../promises.js';
import { readInt64BE, writeInt64BE } from '../serdes/int64.js';
import type { Window, Windowed } from '../windows/windows.js';
import { decode, notOpen, type PersistentStore, type StoreSerdes } from './persistent-store.js';
import type { BatchOperation, RocksDbDatabase, WriteBatch } from './rocksdb-database.js';
import type { SessionStore } from './session-store.js';
import { NOT_IN_MEMORY, type ReadAheadStore } from './store.js';
import {
  DATA_MARKER,
  DATA_RANGE,
  indexedBefore,
  indexedKey,
  openWindowStore,
  sessionIndexKey,
  sessionIndexTime,
  WINDOW_BYTES,
} from './window-end-layout.js';

/** A session in memory: its value decoded, or still the bytes read from disk or the changelog. */
interface Session<V> {
  readonly window: Window;
  value: V | undefined;
  bytes: Buffer | undefined;
}

/** One key's sessions while a batch uses them; written back by the next flush when dirty. */
interface KeySessions<V> {
  readonly keyBytes: Buffer;
  readonly diskKey: Buffer;
  /** By `start:end`; undefined until read from disk. */
  sessions: Map<string, Session<V>> | undefined;
  /** The key's value on disk when its sessions were read (undefined: none): the flush indexes the difference. */
  stored: Buffer | undefined;
  /** Writes made before the sessions were read from disk, applied once they are. */
  pending: Array<{ window: Window; session: Session<V> | undefined }>;
  dirty: boolean;
}

const windowId = (w: Window) => `${w.start}:${w.end}`;
const byStart = (a: Window, b: Window) => a.start - b.start || a.end - b.end;

/** RocksDB refuses empty keys: every data key starts with one marker byte (which keeps the byte order). */
const KEY_MARKER = Buffer.from([DATA_MARKER]);
const EMPTY = Buffer.alloc(0);

/** A key's sessions as one value: per session, by start, its start and end (8-byte big-endian each), value length (4 bytes) and value. */
function encodeSessions(sessions: ReadonlyArray<{ window: Window; bytes: Buffer }>): Buffer {
  const size = sessions.reduce((n, s) => n + WINDOW_BYTES + 4 + s.bytes.length, 0);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const { window, bytes } of sessions) {
    writeInt64BE(out, window.start, at);
    writeInt64BE(out, window.end, at + 8);
    out.writeUInt32BE(bytes.length, at + 16);
    bytes.copy(out, at + 20);
    at += 20 + bytes.length;
  }
  return out;
}

function decodeSessions<V>(data: Buffer): Map<string, Session<V>> {
  const out = new Map<string, Session<V>>();
  for (let at = 0; at < data.length; ) {
    const window = { start: readInt64BE(data, at), end: readInt64BE(data, at + 8) };
    const length = data.readUInt32BE(at + 16);
    out.set(windowId(window), { window, value: undefined, bytes: data.subarray(at + 20, at + 20 + length) });
    at += 20 + length;
  }
  return out;
}

/** A key's sessions by start: as read from disk they are, and a write mostly adds one after them. */
function inStartOrder<V>(sessions: Map<string, Session<V>>): Array<Session<V>> {
  const list = [...sessions.values()];
  for (let i = 1; i < list.length; i++)
    if (byStart(list[i - 1]!.window, list[i]!.window) > 0)
      return list.sort((a, b) => byStart(a.window, b.window));
  return list;
}

/** The session after the one at `at` in a key's encoded sessions. */
const nextSession = (data: Buffer, at: number) => at + 20 + data.readUInt32BE(at + 16);

/**
 * Adds the minute (see window-end-layout.ts) a session ending at `end` ends
 * in to `times`, kept ascending and once each: a key has a few sessions, so
 * an insertion beats a map, a sort and a filter of arrays per key and flush.
 */
function addIndexTime(times: number[], end: number): void {
  const time = sessionIndexTime(end);
  let at = times.length;
  while (at > 0 && times[at - 1]! > time) at -= 1;
  if (at > 0 && times[at - 1] === time) return;
  if (at === times.length) times.push(time);
  else times.splice(at, 0, time);
}

/** The minutes in which a key's encoded sessions end (undefined: none), ascending, once each. */
function storedIndexTimes(data: Buffer | undefined): number[] {
  const times: number[] = [];
  if (data !== undefined)
    for (let at = 0; at < data.length; at = nextSession(data, at))
      addIndexTime(times, readInt64BE(data, at + 8));
  return times;
}

/**
 * The index writes that take a key from its sessions on disk (`stored`,
 * encoded; undefined: none) to `current`: an entry for each minute that some
 * session now ends in and none did, a deletion for each minute no session
 * ends in any more. A session extended within its minute changes nothing.
 */
function indexChanges(
  keyBytes: Buffer,
  stored: Buffer | undefined,
  current: ReadonlyArray<{ window: Window }>,
  out: WriteBatch,
): void {
  const before = storedIndexTimes(stored);
  const after: number[] = [];
  for (const s of current) addIndexTime(after, s.window.end);
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const order = i === before.length ? 1 : j === after.length ? -1 : before[i]! - after[j]!;
    if (order < 0) out.del(sessionIndexKey(keyBytes, before[i++]!));
    else if (order > 0) out.put(sessionIndexKey(keyBytes, after[j++]!), EMPTY);
    else {
      i += 1;
      j += 1;
    }
  }
}

/**
 * Sessions in RocksDB, under `<STATE_DIR>/<applicationId>/<taskId>/<store>`.
 * One RocksDB entry per key: its key is the key's serialised bytes, its value
 * all of the key's sessions, sorted by start. A key's sessions are therefore
 * one point read (never a scan, so a key that is a prefix of another never
 * sees the other's sessions), and a batch's keys are read in one multi-get
 * (`prefetch`). Why not one entry per session under a key prefix: in the
 * `rocksdb` package a range scan costs about 100 µs of the event loop's time
 * (iterator creation, the first entry alone in the first read, an
 * asynchronous end), a key in a multi-get about 4 µs. The cost is that a
 * write rewrites all of its key's sessions; retention keeps them few.
 *
 * `all` runs in key byte order, each key's sessions by start, as in the
 * in-memory store. Writes are buffered until `flush()`, which writes every
 * changed key in one batch; reads see buffered writes.
 *
 * Next to the data, an index of the keys by the minutes their sessions end
 * in (see window-end-layout.ts), written in the same batch as the keys'
 * sessions, so that a retention sweep (`windowsEndedBefore`) is a range scan
 * of the keys with sessions that may have expired, then one multi-get of them.
 */
export class RocksDbSessionStore<K, V> implements SessionStore<K, V>, PersistentStore, ReadAheadStore {
  private db: RocksDbDatabase | undefined;
  /** The keys the current batch has read or written, by key bytes (latin1); cleared by a flush. */
  private keys = new Map<string, KeySessions<V>>();
  private flushing: Promise<void> = Promise.resolve();
  /** The last primitive key serialised, and its bytes. */
  private lastKey: { key: K; bytes: Buffer } | undefined;

  constructor(
    readonly name: string,
    readonly directory: string,
    private readonly serdes: StoreSerdes<K, V>,
  ) {}

  async open(): Promise<void> {
    this.db ??= await openWindowStore(this.directory, indexSessions);
  }

  async findSessions(key: K, earliestEnd: number, latestStart: number): Promise<Array<[Windowed<K>, V]>> {
    return this.sessionsOf(key, (w) => w.end >= earliestEnd && w.start <= latestStart);
  }

  /**
   * findSessions without a promise when the key's sessions were read ahead
   * for the batch (or written since) and their values decode synchronously.
   */
  findSessionsNow(
    key: K,
    earliestEnd: number,
    latestStart: number,
  ): Array<[Windowed<K>, V]> | typeof NOT_IN_MEMORY {
    const state = this.keys.get(this.keyBytes(key).toString('latin1'));
    if (state?.sessions === undefined) return NOT_IN_MEMORY;
    const out: Array<[Windowed<K>, V]> = [];
    const { value: serde, topic } = this.serdes;
    for (const s of state.sessions.values()) {
      const w = s.window;
      if (w.end < earliestEnd || w.start > latestStart) continue;
      if (s.value === undefined) {
        const decoded = serde.deserialize(s.bytes!, topic);
        if (isPromise(decoded)) return NOT_IN_MEMORY;
        s.value = decoded;
      }
      out.push([{ key, window: w }, s.value]);
    }
    return out.sort(([a], [b]) => byStart(a.window, b.window));
  }

  async fetch(key: K): Promise<Array<[Windowed<K>, V]>> {
    return this.sessionsOf(key, () => true);
  }

  /** Reads the sessions of `keys` (serialised) in one multi-get, for the batch about to use them. */
  async prefetch(keys: readonly Buffer[]): Promise<void> {
    await this.load(keys.map((k) => this.keyState(k)));
  }

  put(session: Windowed<K>, value: V): boolean {
    return this.write(this.keyState(this.keyBytes(session.key)), session.window, {
      window: session.window,
      value,
      bytes: undefined,
    });
  }

  remove(session: Windowed<K>): void {
    this.write(this.keyState(this.keyBytes(session.key)), session.window, undefined);
  }

  async *all(): AsyncIterable<[Windowed<K>, V]> {
    await this.flush();
    const { key, value, topic } = this.serdes;
    // a full read (retention sweeps, suppress rebuilds): a key's sessions are read in their stored
    // order, which is by start (every write goes through flush), with no map, sort or promise per session
    for await (const [diskKey, data] of this.database().scan(DATA_RANGE)) {
      const k = key.deserialize(diskKey.subarray(KEY_MARKER.length), topic);
      const inner = isPromise(k) ? await k : k;
      for (let at = 0; at < data.length; ) {
        const window = { start: readInt64BE(data, at), end: readInt64BE(data, at + 8) };
        const length = data.readUInt32BE(at + 16);
        const v = value.deserialize(data.subarray(at + 20, at + 20 + length), topic);
        at += 20 + length;
        yield [{ key: inner, window }, isPromise(v) ? await v : v];
      }
    }
  }

  /**
   * The sessions, of every key, that ended before `cutoff`, by end: a scan of
   * the index for the keys with sessions ending in a minute that starts
   * before the cutoff, then one multi-get of those keys. They stay read for
   * the batch, so removing the sessions reads nothing more.
   */
  async windowsEndedBefore(cutoff: number): Promise<Array<Windowed<K>>> {
    // buffered writes go to disk first, with their index entries
    await this.flush();
    const states = new Set<KeySessions<V>>();
    for (const indexKey of await this.database().keys(indexedBefore(cutoff)))
      states.add(this.keyState(indexedKey(indexKey)));
    await this.load([...states]);
    const { key: serde, topic } = this.serdes;
    const expired: Array<Windowed<K>> = [];
    for (const state of states) {
      let key: K | undefined;
      for (const { window } of state.sessions!.values()) {
        if (window.end >= cutoff) continue;
        key ??= await decode(serde, state.keyBytes, topic);
        expired.push({ key, window });
      }
    }
    return expired.sort((a, b) => a.window.end - b.window.end);
  }

  /** Approximate: RocksDB's estimate of its entries, the keys that have sessions and their index entries (one or a few each). */
  approximateEntries(): number {
    return this.db?.estimatedKeys() ?? 0;
  }

  /** Replays one changelog record: its key is the windowed key (key bytes, then start and end). */
  restoreRaw(key: Buffer, value: Buffer | null): void {
    const keyBytes = key.subarray(0, key.length - WINDOW_BYTES);
    const window = {
      start: readInt64BE(key, key.length - WINDOW_BYTES),
      end: readInt64BE(key, key.length - 8),
    };
    this.write(
      this.keyState(keyBytes),
      window,
      value === null ? undefined : { window, value: undefined, bytes: value },
    );
  }

  /** Writes every changed key in one batch; the next batch reads its keys afresh. */
  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      // writes made while this one is on its way start afresh, and read the disk after it
      const taken = this.keys;
      this.keys = new Map();
      const dirty = [...taken.values()].filter((k) => k.dirty);
      if (dirty.length === 0) return;
      await this.load(dirty, true);
      const { value: serde, topic } = this.serdes;
      const batch = this.database().batch();
      for (const k of dirty) {
        const sessions = inStartOrder(k.sessions!);
        indexChanges(k.keyBytes, k.stored, sessions, batch);
        if (sessions.length === 0) {
          batch.del(k.diskKey);
          continue;
        }
        for (const s of sessions) s.bytes ??= serde.serialize(s.value as V, topic) ?? EMPTY;
        batch.put(k.diskKey, encodeSessions(sessions as ReadonlyArray<{ window: Window; bytes: Buffer }>));
      }
      await batch.write();
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.db === undefined) return;
    await this.flush();
    await this.db.close();
    this.db = undefined;
  }

  private async sessionsOf(key: K, keep: (window: Window) => boolean): Promise<Array<[Windowed<K>, V]>> {
    const state = this.keyState(this.keyBytes(key));
    await this.load([state]);
    const out: Array<[Windowed<K>, V]> = [];
    const { value: serde, topic } = this.serdes;
    for (const s of state.sessions!.values()) {
      if (!keep(s.window)) continue;
      s.value ??= await decode(serde, s.bytes!, topic);
      out.push([{ key, window: s.window }, s.value]);
    }
    return out.sort(([a], [b]) => byStart(a.window, b.window));
  }

  /** Returns true when the key's sessions are read and had none with this window. */
  private write(state: KeySessions<V>, window: Window, session: Session<V> | undefined): boolean {
    state.dirty = true;
    const sessions = state.sessions;
    if (sessions === undefined) {
      state.pending.push({ window, session });
      return false;
    }
    const id = windowId(window);
    if (session === undefined) {
      sessions.delete(id);
      return false;
    }
    const created = !sessions.has(id);
    sessions.set(id, session);
    return created;
  }

  /**
   * Reads from disk, in one multi-get, the sessions of the keys not read yet,
   * then applies their pending writes. Outside a flush it first waits for the
   * flush on its way, whose keys it would otherwise read stale.
   */
  private async load(states: ReadonlyArray<KeySessions<V>>, inFlush = false): Promise<void> {
    if (!states.some((s) => s.sessions === undefined)) return;
    if (!inFlush) await this.flushing;
    const missing = [...new Set(states.filter((s) => s.sessions === undefined))];
    if (missing.length === 0) return;
    const values = await this.database().getMany(missing.map((s) => s.diskKey));
    missing.forEach((state, i) => {
      // another read may have loaded it meanwhile: that copy already has the pending writes
      if (state.sessions !== undefined) return;
      const data = values[i];
      state.stored = data;
      state.sessions = data === undefined ? new Map() : decodeSessions<V>(data);
      for (const { window, session } of state.pending) {
        if (session === undefined) state.sessions.delete(windowId(window));
        else state.sessions.set(windowId(window), session);
      }
      state.pending = [];
    });
  }

  private keyState(keyBytes: Buffer): KeySessions<V> {
    const id = keyBytes.toString('latin1');
    let state = this.keys.get(id);
    if (state === undefined) {
      state = {
        keyBytes,
        diskKey: Buffer.concat([KEY_MARKER, keyBytes]),
        sessions: undefined,
        stored: undefined,
        pending: [],
        dirty: false,
      };
      this.keys.set(id, state);
    }
    return state;
  }

  /** The key's bytes; an aggregation asks for one key's several times in a row (find, remove, put). */
  private keyBytes(key: K): Buffer {
    if (this.lastKey !== undefined && this.lastKey.key === key) return this.lastKey.bytes;
    const bytes = this.serdes.key.serialize(key, this.serdes.topic) ?? Buffer.alloc(0);
    // only primitive keys are remembered: an object key could change between calls
    if (typeof key !== 'object' || key === null) this.lastKey = { key, bytes };
    return bytes;
  }

  private database(): RocksDbDatabase {
    if (this.db === undefined) throw notOpen(this.name);
    return this.db;
  }
}

/**
 * Indexes the keys of a database a previous version wrote (data only): it
 * writes the index in chunks and returns the last (the writes are idempotent:
 * after a crash the next open indexes the database again). A new database
 * has nothing to index.
 */
async function indexSessions(db: RocksDbDatabase): Promise<BatchOperation[]> {
  let operations: BatchOperation[] = [];
  for await (const [diskKey, data] of db.scan(DATA_RANGE)) {
    const keyBytes = diskKey.subarray(KEY_MARKER.length);
    for (const time of storedIndexTimes(data))
      operations.push({ type: 'put', key: sessionIndexKey(keyBytes, time), value: EMPTY });
    if (operations.length >= 10_000) {
      await db.write(operations);
      operations = [];
    }
  }
  return operations;
}

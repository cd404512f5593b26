import type { Window, Windowed } from '../windows/windows.js';
import type { PersistentStore } from './persistent-store.js';
import { RocksDbDatabase } from './rocksdb-database.js';
import { decode, notOpen, type StoreSerdes } from './rocksdb-key-value-store.js';
import type { SessionStore } from './session-store.js';
import { WriteBuffer } from './write-buffer.js';

interface BufferedSession<K, V> {
  readonly session: Windowed<K>;
  /** undefined: removed. */
  readonly value: V | undefined;
}

/** A key's buffered sessions, by `start:end`. */
type BufferedSessions<K, V> = Map<string, BufferedSession<K, V>>;

const LENGTH_BYTES = 4;
const WINDOW_BYTES = 16;
const MAX_SUFFIX = Buffer.alloc(8, 0xff);

/**
 * The bytes every entry of one key starts with: the key's length (4 bytes,
 * big-endian), then the key. The length keeps a key that is a prefix of
 * another (`ab` and `abc`) out of the other's scans.
 */
function keyPrefix(keyBytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(LENGTH_BYTES + keyBytes.length);
  out.writeUInt32BE(keyBytes.length, 0);
  keyBytes.copy(out, LENGTH_BYTES);
  return out;
}

function sessionKey(prefix: Buffer, window: Window): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + WINDOW_BYTES);
  prefix.copy(out, 0);
  out.writeBigInt64BE(BigInt(window.start), prefix.length);
  out.writeBigInt64BE(BigInt(window.end), prefix.length + 8);
  return out;
}

function windowOf(entryKey: Buffer): Window {
  return {
    start: Number(entryKey.readBigInt64BE(entryKey.length - WINDOW_BYTES)),
    end: Number(entryKey.readBigInt64BE(entryKey.length - 8)),
  };
}

const windowId = (w: Window) => `${w.start}:${w.end}`;

/** Scans a read-ahead runs at once: enough to keep RocksDB's threads busy. */
const PREFETCH_SCANS = 32;

/**
 * Sessions in RocksDB, under `<STATE_DIR>/<applicationId>/<taskId>/<store>`.
 * An entry's key is the length-prefixed key bytes, then the session's start
 * and end (8-byte big-endian each), so one key's sessions are one contiguous
 * range sorted by start: `findSessions` and `fetch` are a prefix scan, and
 * `all` runs in key byte order, as in the in-memory store. Values are the
 * value serde's bytes. Writes are buffered until `flush()`, which writes them
 * in one batch; reads see buffered writes. Timestamps are non-negative.
 */
export class RocksDbSessionStore<K, V> implements SessionStore<K, V>, PersistentStore {
  private db: RocksDbDatabase | undefined;
  private readonly buffer = new WriteBuffer<BufferedSessions<K, V>>();
  private restored: Array<{ key: Buffer; value: Buffer | null }> = [];
  /** Entries on disk of the keys read ahead for the current batch, by key prefix; dropped when a flush writes. */
  private readAhead = new Map<string, Array<[Buffer, Buffer]>>();

  constructor(
    readonly name: string,
    readonly directory: string,
    private readonly serdes: StoreSerdes<K, V>,
  ) {}

  async open(): Promise<void> {
    this.db ??= await RocksDbDatabase.open(this.directory);
  }

  findSessions(key: K, earliestEnd: number, latestStart: number): Promise<Array<[Windowed<K>, V]>> {
    return this.sessions(key, latestStart, (w) => w.end >= earliestEnd && w.start <= latestStart);
  }

  fetch(key: K): Promise<Array<[Windowed<K>, V]>> {
    return this.sessions(key, undefined, () => true);
  }

  /**
   * Reads the sessions of `keys` (serialised) from disk ahead, several scans
   * at a time, so that the batch's lookups of those keys need not each wait
   * for a scan of their own. Keeps them until the next flush writes.
   */
  async prefetch(keys: readonly Buffer[]): Promise<void> {
    const db = this.database();
    const wanted = new Map<string, Buffer>();
    for (const k of keys) {
      const prefix = keyPrefix(k);
      const id = prefix.toString('latin1');
      if (!this.readAhead.has(id)) wanted.set(id, prefix);
    }
    const queue = [...wanted];
    const worker = async () => {
      for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
        const [id, prefix] = next;
        const entries: Array<[Buffer, Buffer]> = [];
        for await (const entry of db.scan({
          gte: prefix,
          lte: Buffer.concat([prefix, MAX_SUFFIX, MAX_SUFFIX]),
        }))
          entries.push(entry);
        this.readAhead.set(id, entries);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PREFETCH_SCANS, queue.length) }, worker));
  }

  put(session: Windowed<K>, value: V): void {
    this.buffered(session.key).set(windowId(session.window), { session, value });
  }

  remove(session: Windowed<K>): void {
    this.buffered(session.key).set(windowId(session.window), { session, value: undefined });
  }

  async *all(): AsyncIterable<[Windowed<K>, V]> {
    await this.flush();
    const { key, value, topic } = this.serdes;
    for await (const [k, v] of this.database().scan()) {
      const length = k.readUInt32BE(0);
      const inner = await decode(key, k.subarray(LENGTH_BYTES, LENGTH_BYTES + length), topic);
      yield [{ key: inner, window: windowOf(k) }, await decode(value, v, topic)];
    }
  }

  approximateEntries(): number {
    return this.db?.estimatedKeys() ?? 0;
  }

  /** Replays one changelog record: its key is the windowed key (key bytes, start, end), stored length-prefixed. */
  restoreRaw(key: Buffer, value: Buffer | null): void {
    const prefix = Buffer.allocUnsafe(LENGTH_BYTES);
    prefix.writeUInt32BE(key.length - WINDOW_BYTES, 0);
    this.restored.push({ key: Buffer.concat([prefix, key]), value });
  }

  flush(): Promise<void> {
    return this.buffer.flush(async (keys) => {
      const operations = this.restored.map(({ key, value }) =>
        value === null ? { type: 'del' as const, key } : { type: 'put' as const, key, value },
      );
      this.restored = [];
      for (const sessions of keys.values()) {
        for (const { session, value } of sessions.values()) {
          const entryKey = sessionKey(keyPrefix(this.keyBytes(session.key)), session.window);
          const bytes = value === undefined ? null : this.serdes.value.serialize(value, this.serdes.topic);
          operations.push(
            bytes === null ? { type: 'del', key: entryKey } : { type: 'put', key: entryKey, value: bytes },
          );
        }
      }
      if (operations.length === 0) return;
      await this.database().write(operations);
      this.readAhead = new Map();
    });
  }

  async close(): Promise<void> {
    if (this.db === undefined) return;
    await this.flush();
    await this.db.close();
    this.db = undefined;
  }

  /** Sessions of `key` starting at or before `latestStart` (all when undefined) that pass `keep`, by start. */
  private async sessions(
    key: K,
    latestStart: number | undefined,
    keep: (window: Window) => boolean,
  ): Promise<Array<[Windowed<K>, V]>> {
    const prefix = keyPrefix(this.keyBytes(key));
    const id = prefix.toString('latin1');
    const found = new Map<string, [Windowed<K>, V]>();
    const { value, topic } = this.serdes;
    for await (const [k, v] of this.onDisk(prefix, id, latestStart)) {
      const window = windowOf(k);
      if (keep(window)) found.set(windowId(window), [{ key, window }, await decode(value, v, topic)]);
    }
    for (const layer of this.buffer.layers(id)) {
      for (const [session, { session: s, value: v }] of layer) {
        if (v === undefined || !keep(s.window)) found.delete(session);
        else found.set(session, [s, v]);
      }
    }
    return [...found.values()].sort(
      ([a], [b]) => a.window.start - b.window.start || a.window.end - b.window.end,
    );
  }

  /** A key's entries on disk starting at or before `latestStart` (all when undefined): read ahead, or scanned. */
  private onDisk(
    prefix: Buffer,
    id: string,
    latestStart: number | undefined,
  ): Iterable<[Buffer, Buffer]> | AsyncIterable<[Buffer, Buffer]> {
    // starts are never negative, and negative numbers would not sort as bytes
    if (latestStart !== undefined && latestStart < 0) return [];
    const readAhead = this.readAhead.get(id);
    if (readAhead !== undefined)
      return latestStart === undefined
        ? readAhead
        : readAhead.filter(([k]) => windowOf(k).start <= latestStart);
    const upper =
      latestStart === undefined
        ? Buffer.concat([prefix, MAX_SUFFIX, MAX_SUFFIX])
        : Buffer.concat([
            sessionKey(prefix, { start: latestStart, end: 0 }).subarray(0, prefix.length + 8),
            MAX_SUFFIX,
          ]);
    return this.database().scan({ gte: prefix, lte: upper });
  }

  private buffered(key: K): BufferedSessions<K, V> {
    const id = keyPrefix(this.keyBytes(key)).toString('latin1');
    return this.buffer.pendingFor(id, () => new Map());
  }

  private keyBytes(key: K): Buffer {
    return this.serdes.key.serialize(key, this.serdes.topic) ?? Buffer.alloc(0);
  }

  private database(): RocksDbDatabase {
    if (this.db === undefined) throw notOpen(this.name);
    return this.db;
  }
}

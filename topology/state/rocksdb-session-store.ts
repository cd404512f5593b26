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
      if (operations.length > 0) await this.database().write(operations);
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
    const found = new Map<string, [Windowed<K>, V]>();
    const upper =
      latestStart === undefined
        ? Buffer.concat([prefix, MAX_SUFFIX, MAX_SUFFIX])
        : Buffer.concat([
            sessionKey(prefix, { start: latestStart, end: 0 }).subarray(0, prefix.length + 8),
            MAX_SUFFIX,
          ]);
    const { value, topic } = this.serdes;
    // starts are never negative, and negative numbers would not sort as bytes
    const scan =
      latestStart !== undefined && latestStart < 0 ? [] : this.database().scan({ gte: prefix, lte: upper });
    for await (const [k, v] of scan) {
      const window = windowOf(k);
      if (keep(window)) found.set(windowId(window), [{ key, window }, await decode(value, v, topic)]);
    }
    for (const layer of this.buffer.layers(prefix.toString('latin1'))) {
      for (const [id, { session, value: v }] of layer) {
        if (v === undefined || !keep(session.window)) found.delete(id);
        else found.set(id, [session, v]);
      }
    }
    return [...found.values()].sort(
      ([a], [b]) => a.window.start - b.window.start || a.window.end - b.window.end,
    );
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

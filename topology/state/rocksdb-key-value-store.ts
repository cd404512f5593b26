import { isPromise } from '../promises.js';
import { decode, notOpen, type PersistentStore, type StoreSerdes } from './persistent-store.js';
import { type BatchOperation, RocksDbDatabase, type ScanRange, type WriteBatch } from './rocksdb-database.js';
import { type KeyValueStore, NOT_IN_MEMORY } from './store.js';
import {
  DATA_MARKER,
  DATA_RANGE,
  indexedBefore,
  indexedFrom,
  indexedKey,
  indexedTime,
  openWindowStore,
  windowIndexKey,
} from './window-end-layout.js';
import { notWindowed, type WindowsAhead } from './window-retention.js';
import { WriteBuffer } from './write-buffer.js';

interface Buffered<K, V> {
  readonly key: K;
  readonly keyBytes: Buffer;
  /** undefined: deleted. */
  readonly value: V | undefined;
  /** The value's bytes, when the changelog serialised it already. */
  bytes?: Buffer;
}

/**
 * A key-value store in RocksDB, under `<STATE_DIR>/<applicationId>/<taskId>/<store>`.
 * Keys are the serialised key bytes, so `range` and `all` run in byte order,
 * as in the in-memory store; values are the value serde's bytes (the same as
 * in the changelog). Writes are buffered in memory and written by `flush()` in
 * one write batch; reads see buffered writes.
 *
 * Read-ahead (`prefetch`): the values of a batch's keys, read in one
 * multi-get before the batch runs, answer `readNow` and `get` without I/O
 * until the batch ends (`endBatch`). A flush forgets the keys it writes when
 * it takes them (they stay readable from the flush's layer until it lands,
 * then from disk), and a read-ahead that a flush overlapped keeps nothing, so
 * no read-ahead value outlives a write of its key; the batch's other keys stay
 * read ahead through a flush in the middle of the batch (a punctuator's scan).
 *
 * A store of windowed keys (`windowed`) keeps each entry under a marker byte
 * and, in the same write batch, an index entry by window end (see
 * window-end-layout.ts), so that a retention sweep (`windowsEndedBefore`) is a
 * range scan of the expired windows alone.
 */
export class RocksDbKeyValueStore<K, V> implements KeyValueStore<K, V>, PersistentStore {
  private db: RocksDbDatabase | undefined;
  private readonly buffer = new WriteBuffer<Buffered<K, V>>();
  /** Changelog records replayed since the last flush, which writes them first. */
  private restored: WriteBatch | undefined;
  /**
   * Windowed: the keys (latin1) that reads found on disk, and so indexed,
   * since the pending writes began: a put of one of them needs no index
   * write (an aggregation reads its window before each update). A flush takes
   * it with the writes. A read that starts while a flush is on its way finds
   * on disk only keys that flush does not write (it would find those in the
   * flush's writes), so what it adds stays true until the flush after.
   */
  private indexed = new Set<string>();
  /** Values read ahead for the batch (undefined: not in the store), by key bytes (latin1). */
  private loaded = new Map<string, V | undefined>();
  /** Counts the flushes that took or landed writes: a read-ahead they overlapped is not kept. */
  private flushes = 0;

  constructor(
    readonly name: string,
    readonly directory: string,
    private readonly serdes: StoreSerdes<K, V>,
    private readonly options: { readonly windowed: boolean } = { windowed: false },
  ) {}

  async open(): Promise<void> {
    this.db ??= this.options.windowed
      ? await openWindowStore(this.directory, rewriteWithIndex)
      : await RocksDbDatabase.open(this.directory);
  }

  /** A write not yet flushed (or being flushed), or a value read ahead, answers without I/O; anything else is on disk. */
  readNow(key: K): V | undefined | typeof NOT_IN_MEMORY {
    return this.inMemory(this.keyBytes(key).toString('latin1'));
  }

  async get(key: K): Promise<V | undefined> {
    const keyBytes = this.keyBytes(key);
    const id = keyBytes.toString('latin1');
    const now = this.inMemory(id);
    if (now !== NOT_IN_MEMORY) return now;
    const indexed = this.indexed;
    const bytes = await this.database().get(this.diskKey(keyBytes));
    if (bytes === undefined) return undefined;
    if (this.options.windowed) indexed.add(id);
    return decode(this.serdes.value, bytes, this.serdes.topic);
  }

  /** The values of `keys`: buffered writes first, the rest in one multi-get. */
  async getMany(keys: readonly K[]): Promise<Array<V | undefined>> {
    const out = new Array<V | undefined>(keys.length);
    const ids: string[] = [];
    const diskKeys: Buffer[] = [];
    const at: number[] = [];
    keys.forEach((key, i) => {
      const keyBytes = this.keyBytes(key);
      const id = keyBytes.toString('latin1');
      const now = this.inMemory(id);
      if (now !== NOT_IN_MEMORY) out[i] = now;
      else {
        ids.push(id);
        diskKeys.push(this.diskKey(keyBytes));
        at.push(i);
      }
    });
    if (diskKeys.length === 0) return out;
    const found = await this.readFromDisk(ids, diskKeys);
    for (let j = 0; j < found.length; j++) out[at[j]!] = found[j];
    return out;
  }

  /** Reads ahead the values of `keys` for the batch about to run (see the class comment). */
  prefetch(keys: readonly K[]): Promise<void> {
    return this.prefetchBytes(keys.map((key) => this.keyBytes(key)));
  }

  /** prefetch, given the keys' serialised bytes (a batch's record keys, as read from the topic). */
  async prefetchBytes(keys: readonly Buffer[]): Promise<void> {
    const ids: string[] = [];
    const diskKeys: Buffer[] = [];
    const wanted = new Set<string>();
    for (const keyBytes of keys) {
      const id = keyBytes.toString('latin1');
      if (wanted.has(id) || this.inMemory(id) !== NOT_IN_MEMORY) continue;
      wanted.add(id);
      ids.push(id);
      diskKeys.push(this.diskKey(keyBytes));
    }
    if (diskKeys.length === 0) return;
    const flushes = this.flushes;
    const values = await this.readFromDisk(ids, diskKeys);
    // a flush took or landed writes meanwhile: what was read may be older than what it wrote
    if (this.flushes !== flushes) return;
    for (let j = 0; j < ids.length; j++) this.loaded.set(ids[j]!, values[j]);
  }

  put(key: K, value: V): void {
    this.writeSerialized(key, this.keyBytes(key), value);
  }

  delete(key: K): void {
    this.writeSerialized(key, this.keyBytes(key), undefined);
  }

  writeSerialized(key: K, keyBytes: Buffer, value: V | undefined): void {
    this.buffer.set(keyBytes.toString('latin1'), { key, keyBytes, value });
  }

  /** The changelog's bytes of a buffered value: written as they are, if the value is still the key's. */
  valueSerialized(id: string, value: V, bytes: Buffer): void {
    const buffered = this.buffer.get(id);
    if (buffered !== undefined && buffered.value === value) buffered.bytes = bytes;
  }

  range(from: K, to: K): AsyncIterable<[K, V]> {
    return this.entries({ gte: this.diskKey(this.keyBytes(from)), lte: this.diskKey(this.keyBytes(to)) });
  }

  all(): AsyncIterable<[K, V]> {
    return this.entries(this.options.windowed ? DATA_RANGE : {});
  }

  /** The (windowed) keys whose window ended before `cutoff`, by end: one scan of their index entries. */
  async windowsEndedBefore(cutoff: number): Promise<K[]> {
    if (!this.options.windowed) throw notWindowed(this.name);
    // buffered writes go to disk first, with their index entries
    await this.flush();
    return this.indexedKeys(indexedBefore(cutoff));
  }

  /**
   * The (windowed) keys ending from `from` on, by end, as WindowsAhead says:
   * one scan of at most `limit` + 1 index entries (RocksDB reads no further;
   * the last one tells whether the end before it goes on), and two more only
   * for an end that fills the first by itself and is needed.
   */
  async windowsFrom(from: number, limit: number, needed: number): Promise<WindowsAhead<K>> {
    if (!this.options.windowed) throw notWindowed(this.name);
    await this.flush();
    const page = await this.indexKeys({ ...indexedFrom(from), limit: limit + 1 });
    if (page.length <= limit)
      return { windows: await this.decodeIndexed(page), until: Number.POSITIVE_INFINITY };
    const last = indexedTime(page[limit - 1]!);
    const next = indexedTime(page[limit]!);
    if (next > last) return { windows: await this.decodeIndexed(page.slice(0, limit)), until: next };
    // the last end goes on past the page: it is read whole, or not at all
    const complete = page.filter((indexKey) => indexedTime(indexKey) < last);
    if (complete.length > 0 || last >= needed)
      return { windows: await this.decodeIndexed(complete), until: last };
    const whole = await this.indexKeys(indexedFrom(last, last + 1));
    const [after] = await this.indexKeys({ ...indexedFrom(last + 1), limit: 1 });
    return {
      windows: await this.decodeIndexed(whole),
      until: after === undefined ? Number.POSITIVE_INFINITY : indexedTime(after),
    };
  }

  /** The batch is over: what was read ahead for it is forgotten (it holds one batch's keys at most). */
  endBatch(): void {
    if (this.loaded.size > 0) this.loaded = new Map();
  }

  /** A windowed store holds two entries per window (data and index). */
  approximateEntries(): number {
    const keys = this.db?.estimatedKeys() ?? 0;
    return this.options.windowed ? Math.floor(keys / 2) : keys;
  }

  /** Replays one changelog record as it is: the changelog's key and value bytes are the store's. */
  restoreRaw(key: Buffer, value: Buffer | null): void {
    this.restored ??= this.database().batch();
    this.write(this.restored, key, value, false);
  }

  flush(): Promise<void> {
    return this.buffer.flush(async (entries) => {
      // taken in the same step as `entries`: nothing runs between the buffer's take and this call
      this.flushes += 1;
      for (const id of entries.keys()) this.loaded.delete(id);
      const known = this.indexed;
      this.indexed = new Set();
      const batch = this.restored ?? this.database().batch();
      this.restored = undefined;
      // restored records bypass the buffer: none of the read-ahead can be trusted
      if (batch.length > 0) this.loaded = new Map();
      // a restored record may have deleted a key a read found (restores and updates do not mix; to be safe)
      const indexed = batch.length === 0 ? known : NOTHING;
      for (const [id, entry] of entries) {
        const { keyBytes, value } = entry;
        const bytes =
          value === undefined ? null : (entry.bytes ?? this.serdes.value.serialize(value, this.serdes.topic));
        this.write(batch, keyBytes, bytes, indexed.has(id));
      }
      if (batch.length === 0) return;
      try {
        await batch.write();
      } finally {
        this.flushes += 1;
      }
    });
  }

  async close(): Promise<void> {
    if (this.db === undefined) return;
    await this.flush();
    await this.db.close();
    this.db = undefined;
  }

  /**
   * Adds the writes of one key's new value (null: deleted) to `batch`,
   * with its index entry's unless the key is known to be `indexed` already.
   */
  private write(batch: WriteBatch, keyBytes: Buffer, value: Buffer | null, indexed: boolean): void {
    const key = this.diskKey(keyBytes);
    if (value === null) batch.del(key);
    else batch.put(key, value);
    if (!this.options.windowed || (indexed && value !== null)) return;
    const index = windowIndexKey(keyBytes);
    if (value === null) batch.del(index);
    else batch.put(index, EMPTY);
  }

  /** The index entries' keys within `range`, in order (the store is flushed). */
  private indexKeys(range: ScanRange): Promise<Buffer[]> {
    return this.database().keys(range);
  }

  /** The store's keys of the index entries within `range`, in index order (the store is flushed). */
  private async indexedKeys(range: ScanRange): Promise<K[]> {
    return this.decodeIndexed(await this.indexKeys(range));
  }

  private async decodeIndexed(indexKeys: readonly Buffer[]): Promise<K[]> {
    const keys: K[] = [];
    for (const indexKey of indexKeys)
      keys.push(await decode(this.serdes.key, indexedKey(indexKey), this.serdes.topic));
    return keys;
  }

  private async *entries(range: ScanRange): AsyncIterable<[K, V]> {
    // buffered writes go to disk first, so one ordered scan sees everything
    await this.flush();
    const { key, value, topic } = this.serdes;
    const skip = this.options.windowed ? 1 : 0;
    for await (const [k, v] of this.database().scan(range))
      yield [await decode(key, k.subarray(skip), topic), await decode(value, v, topic)];
  }

  /**
   * The values of `diskKeys` (ids: their keys' bytes, latin1) in one
   * multi-get, decoded without a promise when the serde is synchronous; a
   * windowed key found is known indexed until the next flush.
   */
  private async readFromDisk(ids: readonly string[], diskKeys: Buffer[]): Promise<Array<V | undefined>> {
    const indexed = this.indexed;
    const found = await this.database().getMany(diskKeys);
    const { value: serde, topic } = this.serdes;
    const values = new Array<V | undefined>(found.length);
    for (let j = 0; j < found.length; j++) {
      const bytes = found[j];
      if (bytes === undefined) continue;
      if (this.options.windowed) indexed.add(ids[j]!);
      const value = serde.deserialize(bytes, topic);
      values[j] = isPromise(value) ? await value : value;
    }
    return values;
  }

  /** The value of `id` without I/O: buffered writes first (newest), then the batch's read-ahead. */
  private inMemory(id: string): V | undefined | typeof NOT_IN_MEMORY {
    const buffered = this.buffer.get(id);
    if (buffered !== undefined) return buffered.value;
    return this.loaded.has(id) ? this.loaded.get(id) : NOT_IN_MEMORY;
  }

  private diskKey(keyBytes: Buffer): Buffer {
    return this.options.windowed ? Buffer.concat([MARKER, keyBytes]) : keyBytes;
  }

  private keyBytes(key: K): Buffer {
    return this.serdes.key.serialize(key, this.serdes.topic) ?? Buffer.alloc(0);
  }

  private database(): RocksDbDatabase {
    if (this.db === undefined) throw notOpen(this.name);
    return this.db;
  }
}

const EMPTY = Buffer.alloc(0);
const MARKER = Buffer.from([DATA_MARKER]);
const NOTHING: ReadonlySet<string> = new Set();

/**
 * The writes that give a windowed store's database a previous version wrote
 * (each entry under its bare key) this layout, all in the one batch that
 * marks it: a crash leaves the old layout, converted again on the next open.
 * A new database has nothing to convert.
 */
async function rewriteWithIndex(db: RocksDbDatabase): Promise<BatchOperation[]> {
  const removed: BatchOperation[] = [];
  const added: BatchOperation[] = [];
  for await (const [key, value] of db.scan()) {
    removed.push({ type: 'del', key });
    added.push(
      { type: 'put', key: Buffer.concat([MARKER, key]), value },
      { type: 'put', key: windowIndexKey(key), value: EMPTY },
    );
  }
  // every old key goes before any new one is written: an old key may equal a new one
  return [...removed, ...added];
}

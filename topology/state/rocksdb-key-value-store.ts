import { decode, notOpen, type PersistentStore, type StoreSerdes } from './persistent-store.js';
import { type BatchOperation, RocksDbDatabase } from './rocksdb-database.js';
import type { KeyValueStore } from './store.js';
import { WriteBuffer } from './write-buffer.js';

interface Buffered<K, V> {
  readonly key: K;
  readonly keyBytes: Buffer;
  /** undefined: deleted. */
  readonly value: V | undefined;
}

/**
 * A key-value store in RocksDB, under `<STATE_DIR>/<applicationId>/<taskId>/<store>`.
 * Keys are the serialised key bytes, so `range` and `all` run in byte order,
 * as in the in-memory store; values are the value serde's bytes (the same as
 * in the changelog). Writes are buffered in memory and written by `flush()` in
 * one write batch; reads see buffered writes.
 */
export class RocksDbKeyValueStore<K, V> implements KeyValueStore<K, V>, PersistentStore {
  private db: RocksDbDatabase | undefined;
  private readonly buffer = new WriteBuffer<Buffered<K, V>>();
  private restored: BatchOperation[] = [];

  constructor(
    readonly name: string,
    readonly directory: string,
    private readonly serdes: StoreSerdes<K, V>,
  ) {}

  async open(): Promise<void> {
    this.db ??= await RocksDbDatabase.open(this.directory);
  }

  async get(key: K): Promise<V | undefined> {
    const keyBytes = this.keyBytes(key);
    const buffered = this.buffer.get(keyBytes.toString('latin1'));
    if (buffered !== undefined) return buffered.value;
    const bytes = await this.database().get(keyBytes);
    return bytes === undefined ? undefined : decode(this.serdes.value, bytes, this.serdes.topic);
  }

  put(key: K, value: V): void {
    const keyBytes = this.keyBytes(key);
    this.buffer.set(keyBytes.toString('latin1'), { key, keyBytes, value });
  }

  delete(key: K): void {
    const keyBytes = this.keyBytes(key);
    this.buffer.set(keyBytes.toString('latin1'), { key, keyBytes, value: undefined });
  }

  range(from: K, to: K): AsyncIterable<[K, V]> {
    return this.entries(this.keyBytes(from), this.keyBytes(to));
  }

  all(): AsyncIterable<[K, V]> {
    return this.entries(undefined, undefined);
  }

  approximateEntries(): number {
    return this.db?.estimatedKeys() ?? 0;
  }

  /** Replays one changelog record as it is: the changelog's key and value bytes are the store's. */
  restoreRaw(key: Buffer, value: Buffer | null): void {
    this.restored.push(value === null ? { type: 'del', key } : { type: 'put', key, value });
  }

  flush(): Promise<void> {
    return this.buffer.flush(async (entries) => {
      const operations = this.restored;
      this.restored = [];
      for (const { keyBytes, value } of entries.values()) {
        const bytes = value === undefined ? null : this.serdes.value.serialize(value, this.serdes.topic);
        operations.push(
          bytes === null ? { type: 'del', key: keyBytes } : { type: 'put', key: keyBytes, value: bytes },
        );
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

  private async *entries(gte: Buffer | undefined, lte: Buffer | undefined): AsyncIterable<[K, V]> {
    // buffered writes go to disk first, so one ordered scan sees everything
    await this.flush();
    const { key, value, topic } = this.serdes;
    for await (const [k, v] of this.database().scan({ ...(gte && { gte }), ...(lte && { lte }) }))
      yield [await decode(key, k, topic), await decode(value, v, topic)];
  }

  private keyBytes(key: K): Buffer {
    return this.serdes.key.serialize(key, this.serdes.topic) ?? Buffer.alloc(0);
  }

  private database(): RocksDbDatabase {
    if (this.db === undefined) throw notOpen(this.name);
    return this.db;
  }
}

import { VeroaiError } from '../errors.js';
import type { Serde } from '../serdes/serde.js';
import type { PersistentStore } from './persistent-store.js';
import { type BatchOperation, RocksDbDatabase } from './rocksdb-database.js';
import type { KeyValueStore } from './store.js';
import { WriteBuffer } from './write-buffer.js';

/** How a persistent store turns keys and values into bytes: the serdes of its changelog topic. */
export interface StoreSerdes<K, V> {
  readonly key: Serde<K>;
  readonly value: Serde<V>;
  /** The topic the serdes are asked about (the changelog), so the bytes equal the changelog's. */
  readonly topic: string;
}

interface Buffered<K, V> {
  readonly key: K;
  readonly keyBytes: Buffer;
  /** undefined: deleted. */
  readonly value: V | undefined;
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as Promise<T>)?.then === 'function';

/** Deserialises with `serde`, awaiting only when the serde is asynchronous. */
export async function decode<T>(serde: Serde<T>, bytes: Buffer, topic: string): Promise<T> {
  const value = serde.deserialize(bytes, topic);
  return isPromise(value) ? await value : value;
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

export function notOpen(store: string): VeroaiError {
  return new VeroaiError(
    'VEROAI_ERR_STATE_STORE',
    `state store '${store}' is not open: its task has not restored it yet, or has closed it`,
    { hint: 'query stores of running tasks only (StreamsApplication.queryStore)' },
  );
}

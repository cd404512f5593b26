/**
 * Where a store keeps its data: `memory` (the JavaScript heap; rebuilt from the
 * changelog on every assignment) or `rocksdb` (local files under STATE_DIR,
 * with a checkpoint so that a restart restores only the changelog's tail).
 */
export type StoreType = 'memory' | 'rocksdb';

/** What every state store offers the runtime. */
export interface StateStore {
  readonly name: string;
  /** Number of live entries (for the state-store-entries metric). */
  approximateEntries(): number;
  /**
   * Makes buffered writes durable locally. The task calls it at the end of
   * every batch, before the batch's output (with its changelog records) is sent.
   */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** What `KeyValueStore.readNow` answers when the value is not in memory. */
export const NOT_IN_MEMORY: unique symbol = Symbol('not in memory');

/**
 * `then(the value of key)`: synchronously when the store has it in memory
 * (see `readNow`), else once `get` resolves. A RecordProcessor that returns
 * this keeps the runtime's synchronous path (no promise per record) for
 * reads that need no I/O.
 */
export function readStored<K, V, R>(
  store: KeyValueStore<K, V>,
  key: K,
  then: (value: V | undefined) => R,
): R | Promise<Awaited<R>> {
  const now = store.readNow === undefined ? NOT_IN_MEMORY : store.readNow(key);
  if (now !== NOT_IN_MEMORY) return then(now);
  return store.get(key).then(then) as Promise<Awaited<R>>;
}

/** A store that can read keys ahead of a batch (a persistent store, whose reads go to disk). */
export interface ReadAheadStore {
  /**
   * The serialised keys the next batch's records carry; the store reads them
   * ahead, several at once, so that the batch's reads of them wait less.
   */
  prefetch(keys: readonly Buffer[]): Promise<void>;
}

/**
 * A key-value store. Reads are asynchronous because a persistent store may have
 * to go to disk; writes are synchronous because they are buffered in the task
 * until `flush()`. Use it from a RecordProcessor, which the runtime waits for
 * before the next record, so records of a partition stay in order.
 *
 * @example
 * (context) => ({
 *   async process(r) {
 *     const n = ((await store.get(r.key)) ?? 0) + 1;
 *     store.put(r.key, n);
 *     context.forward({ ...r, value: n });
 *   },
 * })
 */
export interface KeyValueStore<K, V> extends StateStore {
  get(key: K): Promise<V | undefined>;
  /** The values of `keys`, in their order; a persistent store reads them from disk in one go. */
  getMany(keys: readonly K[]): Promise<Array<V | undefined>>;
  /**
   * The value of `key` when the store has it in memory without I/O (a memory
   * store; a persistent store's writes not yet flushed), else NOT_IN_MEMORY
   * (then ask `get`). A processor reads through `readStored`, which makes no
   * promise for a read that needs none.
   */
  readNow?(key: K): V | undefined | typeof NOT_IN_MEMORY;
  /**
   * Reads the values of `keys` ahead, in one go, for the batch about to run:
   * until the store's next flush (the batch's end), `readNow` and `get` answer
   * them without I/O. A persistent store has it; a memory store needs none.
   * See RecordProcessor.readAhead.
   */
  prefetch?(keys: readonly K[]): Promise<void>;
  put(key: K, value: V): void;
  delete(key: K): void;
  /**
   * `put` (`delete` when `value` is undefined) given the key's bytes as the
   * store's key serde writes them: a changelogging wrapper has them for its
   * changelog, and the store does not serialise the key again.
   */
  writeSerialized?(key: K, keyBytes: Buffer, value: V | undefined): void;
  /**
   * A written value's bytes, serialised by the store's value serde (for the
   * changelog), given with its key's id (the key's bytes as latin1): the
   * store writes them if that value is still the key's pending one.
   */
  valueSerialized?(id: string, value: V, bytes: Buffer): void;
  /** Entries with `from <= key <= to`, compared as serialised bytes, in that order. */
  range(from: K, to: K): AsyncIterable<[K, V]>;
  /** All entries, in key order of their serialised form. */
  all(): AsyncIterable<[K, V]>;
}

import { join } from 'node:path';
import type { StoreSpec } from '../plan/graph.js';
import { isPromise } from '../promises.js';
import type { OutgoingRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import { windowedSerde } from '../windows/windowed-serde.js';
import type { Windowed } from '../windows/windows.js';
import { ChangeLoggingSessionStore } from './change-logging-session-store.js';
import { ChangeLoggingKeyValueStore } from './change-logging-store.js';
import { MemoryKeyValueStore } from './memory-key-value-store.js';
import type { PersistentStore } from './persistent-store.js';
import { RocksDbKeyValueStore } from './rocksdb-key-value-store.js';
import { RocksDbSessionStore } from './rocksdb-session-store.js';
import { MemorySessionStore, type SessionStore } from './session-store.js';
import type { KeyValueStore, StateStore, StoreType } from './store.js';

/** A task's instance of a store, and how to replay one changelog record into it (without logging it again). */
export interface TaskStore {
  readonly store: StateStore;
  /** The store's local files, when it has them (rocksdb): opened, checkpointed and wiped by the task. */
  readonly persistent: PersistentStore | undefined;
  /**
   * Reads ahead the keys of a batch's input records, for a persistent store
   * keyed like its task's input (sessions, StoreSpec.keyedByInput); undefined
   * when reading ahead would not pay.
   */
  readonly prefetch: ((keys: readonly Buffer[]) => Promise<void>) | undefined;
  /** Synchronous when the serdes are (the common case): restore runs at the speed of the decoder. */
  restore(key: Buffer | null, value: Buffer | null): void | Promise<void>;
}

export interface TaskStoreContext {
  readonly changelogTopic: string;
  readonly partition: number;
  /** Where changelog records go: the task's batch output. */
  readonly emit: (record: OutgoingRecord) => void;
  readonly now: () => number;
  /** The task's folder, `<STATE_DIR>/<applicationId>/<taskId>`: a persistent store lives in `<folder>/<store>`. */
  readonly taskDirectory: string;
  /** The backend of a store whose spec does not choose one. */
  readonly defaultStoreType: StoreType;
}

/** Applies `apply` to a value that may or may not be a promise, staying synchronous when it is not. */
function andThen<T>(v: T | Promise<T>, apply: (value: T) => void | Promise<void>): void | Promise<void> {
  return isPromise(v) ? v.then(apply) : apply(v);
}

/** Builds the store a spec describes for one task, in memory or RocksDB, changelogged when the spec says so. */
export function createTaskStore(spec: StoreSpec, ctx: TaskStoreContext): TaskStore {
  const keySerde = spec.keySerde;
  const valueSerde = spec.valueSerde;
  const topic = ctx.changelogTopic;
  const keyBytes = (k: unknown) => keySerde.serialize(k, topic) ?? Buffer.alloc(0);
  const type = spec.storeType ?? ctx.defaultStoreType;
  const serdes = { key: keySerde, value: valueSerde, topic };
  const directory = join(ctx.taskDirectory, spec.name);
  if (spec.type === 'session') {
    const inner: SessionStore<unknown, unknown> =
      type === 'rocksdb'
        ? new RocksDbSessionStore(spec.name, directory, serdes)
        : new MemorySessionStore(spec.name, keyBytes);
    const sessionKeys = windowedSerde(keySerde) as Serde<Windowed<unknown>>;
    const store = spec.changelog
      ? new ChangeLoggingSessionStore(inner, sessionKeys, valueSerde, topic, ctx.partition, ctx.emit, ctx.now)
      : inner;
    if (inner instanceof RocksDbSessionStore)
      return {
        store,
        persistent: inner,
        // a session store is keyed by its grouped key, which is the key of its task's input
        prefetch: (keys) => inner.prefetch(keys),
        restore: (key, value) => inner.restoreRaw(key ?? Buffer.alloc(0), value),
      };
    return {
      store,
      persistent: undefined,
      prefetch: undefined,
      restore: decodingRestore(
        (key) => sessionKeys.deserialize(key, topic),
        (value) => valueSerde.deserialize(value, topic),
        (session) => inner.remove(session),
        (session, v) => inner.put(session, v),
      ),
    };
  }
  // a store with window retention is keyed Windowed<K>: it keeps an index by window end for the sweeps
  const windowed = spec.windowRetentionMs !== undefined || spec.indexedByWindowEnd === true;
  const inner: KeyValueStore<unknown, unknown> =
    type === 'rocksdb'
      ? new RocksDbKeyValueStore(spec.name, directory, serdes, { windowed })
      : new MemoryKeyValueStore(
          spec.name,
          keyBytes,
          windowed ? (k) => (k as Windowed<unknown>).window.end : undefined,
        );
  const store = spec.changelog
    ? new ChangeLoggingKeyValueStore(inner, keySerde, valueSerde, topic, ctx.partition, ctx.emit, ctx.now)
    : inner;
  if (inner instanceof RocksDbKeyValueStore)
    return {
      store,
      persistent: inner,
      prefetch: spec.keyedByInput === true && !windowed ? (keys) => inner.prefetchBytes(keys) : undefined,
      restore: (key, value) => inner.restoreRaw(key ?? Buffer.alloc(0), value),
    };
  return {
    store,
    persistent: undefined,
    prefetch: undefined,
    restore: decodingRestore(
      (key) => keySerde.deserialize(key, topic),
      (value) => valueSerde.deserialize(value, topic),
      (k) => inner.delete(k),
      (k, v) => inner.put(k, v),
    ),
  };
}

/**
 * Replays changelog records into an in-memory store: decodes the key, then
 * removes it on a tombstone or puts the decoded value. Synchronous whenever
 * the serdes are.
 */
function decodingRestore<K>(
  decodeKey: (key: Buffer | null) => K | Promise<K>,
  decodeValue: (value: Buffer) => unknown,
  remove: (key: K) => void,
  put: (key: K, value: unknown) => void,
): TaskStore['restore'] {
  return (key, value) =>
    andThen(decodeKey(key), (k) =>
      value === null ? remove(k) : andThen(decodeValue(value), (v) => put(k, v)),
    );
}

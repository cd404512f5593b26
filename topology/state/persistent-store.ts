import { VeroaiError } from '../errors.js';
import { isPromise } from '../promises.js';
import type { Serde } from '../serdes/serde.js';
import type { StateStore } from './store.js';

/** A store that keeps its data in local files under STATE_DIR, and survives a restart. */
export interface PersistentStore extends StateStore {
  /** Its files' directory: `<STATE_DIR>/<applicationId>/<taskId>/<store>`. */
  readonly directory: string;
  /** Opens (or creates) the files; the task calls it before restoring and processing. */
  open(): Promise<void>;
  /** Buffers one changelog record as raw bytes (no serde round trip); `flush()` writes it. */
  restoreRaw(key: Buffer, value: Buffer | null): void;
  /** The task's batch is over (after its flush): what the store read ahead for it is forgotten. */
  endBatch?(): void;
}

/** How a persistent store turns keys and values into bytes: the serdes of its changelog topic. */
export interface StoreSerdes<K, V> {
  readonly key: Serde<K>;
  readonly value: Serde<V>;
  /** The topic the serdes are asked about (the changelog), so the bytes equal the changelog's. */
  readonly topic: string;
}

/** Deserialises with `serde`, awaiting only when the serde is asynchronous. */
export async function decode<T>(serde: Serde<T>, bytes: Buffer, topic: string): Promise<T> {
  const value = serde.deserialize(bytes, topic);
  return isPromise(value) ? await value : value;
}

/** The error a read of a persistent store that is closed, or not restored yet, throws. */
export function notOpen(store: string): VeroaiError {
  return new VeroaiError(
    'VEROAI_ERR_STATE_STORE',
    `state store '${store}' is not open: its task has not restored it yet, or has closed it`,
    { hint: 'query stores of running tasks only (StreamsApplication.queryStore)' },
  );
}

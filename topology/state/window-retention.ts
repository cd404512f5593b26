import { VeroaiError } from '../errors.js';
import type { StoreSpec } from '../plan/graph.js';
import type { Windowed } from '../windows/windows.js';
import type { SessionStore } from './session-store.js';
import type { KeyValueStore, StateStore } from './store.js';

/**
 * A key-value store of windowed keys that finds the windows that ended before
 * a time by reading only those (an index by window end: in the heap for a
 * memory store, in the same database for a RocksDB one).
 */
export interface WindowedKeyValueStore<K, V> extends KeyValueStore<Windowed<K>, V> {
  /** The keys whose window ended before `cutoff`, by end. */
  windowsEndedBefore(cutoff: number): Promise<Array<Windowed<K>>>;
  /** A read ahead in end order (see WindowsAhead). */
  windowsFrom(from: number, limit: number, needed: number): Promise<WindowsAhead<Windowed<K>>>;
  /** The values of `keys` (undefined where absent), in one read of the store. */
  getMany(keys: ReadonlyArray<Windowed<K>>): Promise<Array<V | undefined>>;
}

/**
 * What `windowsFrom(from, limit, needed)` reads of a store's windows in end
 * order: every window ending in `[from, until)`, by end, whole ends at a
 * time, as many as fit in `limit`; an end that holds more than `limit` by
 * itself is read whole when it comes first and is before `needed` (its
 * windows are needed now), else not at all. `until` is the end of the first
 * window not read (+Infinity: none).
 */
export interface WindowsAhead<K> {
  readonly windows: K[];
  readonly until: number;
}

/**
 * Deletes from a windowed store every window that ended before `cutoff`:
 * sessions from a session store, windowed entries (keyed `Windowed<K>`) from
 * a key-value store. The store's index by window end finds them, so a sweep
 * reads what expires, not the whole store. It deletes through the store it is
 * given, so a changelogged store also logs a tombstone for each. Returns how many.
 */
export async function deleteWindowsEndedBefore(
  store: StateStore,
  type: StoreSpec['type'],
  cutoff: number,
): Promise<number> {
  if (type === 'session') {
    const sessions = store as SessionStore<unknown, unknown>;
    const expired = await sessions.windowsEndedBefore(cutoff);
    for (const session of expired) sessions.remove(session);
    return expired.length;
  }
  const windows = store as WindowedKeyValueStore<unknown, unknown>;
  if (typeof windows.windowsEndedBefore !== 'function') throw notWindowed(store.name);
  const expired = await windows.windowsEndedBefore(cutoff);
  for (const key of expired) windows.delete(key);
  return expired.length;
}

/** The error of a retention sweep over a key-value store that keeps no index by window end. */
export function notWindowed(store: string): VeroaiError {
  return new VeroaiError(
    'VEROAI_ERR_STATE_STORE',
    `state store '${store}' has no index by window end: it was not created as a store of windowed keys`,
    { hint: 'window retention applies to the stores of windowed aggregations only' },
  );
}

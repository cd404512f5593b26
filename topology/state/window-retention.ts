import type { StoreSpec } from '../plan/graph.js';
import type { Windowed } from '../windows/windows.js';
import type { SessionStore } from './session-store.js';
import type { KeyValueStore, StateStore } from './store.js';

/**
 * Deletes from a windowed store every window that ended before `cutoff`:
 * sessions from a session store, windowed entries (keyed `Windowed<K>`) from
 * a key-value store. It writes through the store it is given, so a
 * changelogged store also logs a tombstone for each. Returns how many.
 */
export async function deleteWindowsEndedBefore(
  store: StateStore,
  type: StoreSpec['type'],
  cutoff: number,
): Promise<number> {
  const expired: Array<Windowed<unknown>> = [];
  if (type === 'session') {
    const sessions = store as SessionStore<unknown, unknown>;
    for await (const [session] of sessions.all()) if (session.window.end < cutoff) expired.push(session);
    for (const session of expired) sessions.remove(session);
  } else {
    const windows = store as KeyValueStore<Windowed<unknown>, unknown>;
    for await (const [key] of windows.all()) if (key.window.end < cutoff) expired.push(key);
    for (const key of expired) windows.delete(key);
  }
  return expired.length;
}

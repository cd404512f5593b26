import type { Window, Windowed } from '../windows/windows.js';
import { NOT_IN_MEMORY, type StateStore } from './store.js';
import { WindowEndIndex } from './window-end-index.js';

/**
 * Sessions per key, as Kafka Streams' SessionStore: a session is a window
 * [start, end] (both inclusive) and its aggregate. Reads are asynchronous (a
 * persistent store may go to disk), writes are buffered until `flush()`.
 */
export interface SessionStore<K, V> extends StateStore {
  /** Sessions of `key` with `end >= earliestEnd` and `start <= latestStart`, by start. */
  findSessions(key: K, earliestEnd: number, latestStart: number): Promise<Array<[Windowed<K>, V]>>;
  /**
   * What `findSessions` answers, when the store has the key's sessions in
   * memory without I/O (a memory store; a RocksDB store's keys read ahead for
   * the batch), else NOT_IN_MEMORY: a session aggregation then makes no
   * promise for the record.
   */
  findSessionsNow?(
    key: K,
    earliestEnd: number,
    latestStart: number,
  ): Array<[Windowed<K>, V]> | typeof NOT_IN_MEMORY;
  /** Every session of `key`, by start (for interactive queries). */
  fetch(key: K): Promise<Array<[Windowed<K>, V]>>;
  /**
   * Writes the session. Returns true when the store knows, without I/O, that
   * it held no session with this key and window (false when it did, or
   * cannot tell): a changelog then needs no tombstone if the session is
   * removed before it is ever logged.
   */
  put(session: Windowed<K>, value: V): boolean;
  remove(session: Windowed<K>): void;
  all(): AsyncIterable<[Windowed<K>, V]>;
  /**
   * The sessions, of every key, that ended before `cutoff`, by end: what a
   * retention sweep deletes. Reads only those, not the whole store.
   */
  windowsEndedBefore(cutoff: number): Promise<Array<Windowed<K>>>;
}

/**
 * `then(findSessions(key, earliestEnd, latestStart))`: synchronously when the
 * store has the key's sessions in memory (`findSessionsNow`), else once
 * `findSessions` resolves. The session store's `readStored`.
 */
export function findSessionsStored<K, V, R>(
  store: SessionStore<K, V>,
  key: K,
  earliestEnd: number,
  latestStart: number,
  then: (sessions: Array<[Windowed<K>, V]>) => R,
): R | Promise<R> {
  const now =
    store.findSessionsNow === undefined
      ? NOT_IN_MEMORY
      : store.findSessionsNow(key, earliestEnd, latestStart);
  if (now !== NOT_IN_MEMORY) return then(now);
  return store.findSessions(key, earliestEnd, latestStart).then(then);
}

interface Entry<K, V> {
  readonly key: K;
  readonly window: Window;
  value: V;
}

/** Sessions in memory: per serialised key, a small array kept in start order; and by end, for retention. */
export class MemorySessionStore<K, V> implements SessionStore<K, V> {
  private readonly byKey = new Map<string, Array<Entry<K, V>>>();
  private readonly byEnd = new WindowEndIndex<Entry<K, V>>();
  private count = 0;

  constructor(
    readonly name: string,
    private readonly keyBytes: (key: K) => Buffer,
  ) {}

  async findSessions(key: K, earliestEnd: number, latestStart: number): Promise<Array<[Windowed<K>, V]>> {
    return this.findSessionsNow(key, earliestEnd, latestStart);
  }

  findSessionsNow(key: K, earliestEnd: number, latestStart: number): Array<[Windowed<K>, V]> {
    const list = this.byKey.get(this.id(key));
    if (list === undefined) return [];
    const out: Array<[Windowed<K>, V]> = [];
    for (const e of list)
      if (e.window.end >= earliestEnd && e.window.start <= latestStart)
        out.push([{ key: e.key, window: e.window }, e.value]);
    return out;
  }

  async fetch(key: K): Promise<Array<[Windowed<K>, V]>> {
    return (this.byKey.get(this.id(key)) ?? []).map((e) => [{ key: e.key, window: e.window }, e.value]);
  }

  put(session: Windowed<K>, value: V): boolean {
    const id = this.id(session.key);
    let list = this.byKey.get(id);
    if (list === undefined) {
      list = [];
      this.byKey.set(id, list);
    }
    const existing = list.find(
      (e) => e.window.start === session.window.start && e.window.end === session.window.end,
    );
    if (existing !== undefined) {
      existing.value = value;
      return false;
    }
    const entry = { key: session.key, window: session.window, value };
    list.push(entry);
    this.byEnd.add(entry.window.end, entry);
    list.sort((a, b) => a.window.start - b.window.start || a.window.end - b.window.end);
    this.count += 1;
    return true;
  }

  remove(session: Windowed<K>): void {
    const id = this.id(session.key);
    const list = this.byKey.get(id);
    if (list === undefined) return;
    const i = list.findIndex(
      (e) => e.window.start === session.window.start && e.window.end === session.window.end,
    );
    if (i < 0) return;
    this.byEnd.remove(session.window.end, list[i]!);
    list.splice(i, 1);
    this.count -= 1;
    if (list.length === 0) this.byKey.delete(id);
  }

  async *all(): AsyncIterable<[Windowed<K>, V]> {
    for (const id of [...this.byKey.keys()].sort()) {
      for (const e of this.byKey.get(id) ?? []) yield [{ key: e.key, window: e.window }, e.value];
    }
  }

  async windowsEndedBefore(cutoff: number): Promise<Array<Windowed<K>>> {
    return this.byEnd.endedBefore(cutoff).map((e) => ({ key: e.key, window: e.window }));
  }

  /** Sessions and ends the retention sweeps have read (for tests of their cost). */
  get sweepVisits(): number {
    return this.byEnd.visited;
  }

  approximateEntries(): number {
    return this.count;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.byKey.clear();
    this.byEnd.clear();
    this.count = 0;
  }

  private id(key: K): string {
    return this.keyBytes(key).toString('latin1');
  }
}

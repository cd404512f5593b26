import type { KeyValueStore } from './store.js';

/**
 * Ids ordered by a time, kept in a key-value store (changelogged like any
 * other) as `<time, 16 zero-padded digits>|<id>` → id, so that what is older
 * than a cutoff is one range scan of the store: expiry reads only what
 * expires, and the index lives on disk with a RocksDB store, not in the heap.
 * Give it a store of string keys and values (`Serdes.string`).
 *
 * @example
 * const idle = new TimeIndex(context.getStateStore('user-activity-by-time'));
 * idle.move(previousTime, time, entity);
 * for (const [time, entity] of await idle.takeBefore(streamTime - ttl)) store.delete(entity);
 */
export class TimeIndex {
  constructor(private readonly store: KeyValueStore<string, string>) {}

  /** Indexes `id` at `time` (an id may be indexed at several times). */
  add(time: number, id: string): void {
    this.store.put(indexKey(time, id), id);
  }

  remove(time: number, id: string): void {
    this.store.delete(indexKey(time, id));
  }

  /** Re-indexes `id` from `from` (undefined: not indexed yet) to `to`. */
  move(from: number | undefined, to: number, id: string): void {
    if (from === to) return;
    if (from !== undefined) this.remove(from, id);
    this.add(to, id);
  }

  /** Removes and returns the entries indexed before `cutoff`, oldest first. */
  async takeBefore(cutoff: number): Promise<Array<[number, string]>> {
    if (cutoff <= 0) return [];
    const taken: Array<[number, string]> = [];
    const keys: string[] = [];
    for await (const [key, id] of this.store.range(indexKey(0, ''), indexKey(cutoff, ''))) {
      if (key >= indexKey(cutoff, '')) break;
      keys.push(key);
      taken.push([Number(key.slice(0, TIME_DIGITS)), id]);
    }
    for (const key of keys) this.store.delete(key);
    return taken;
  }

  /**
   * Expiry: takes the ids indexed before `cutoff` and deletes from `store`
   * each whose value's time (`timeOf`) is still before it (an id seen again
   * since is indexed under its newer time) and that `keep` does not hold on
   * to. The values are read in multi-gets, not one read per id. Returns how
   * many ids were deleted.
   */
  async expire<V>(
    store: KeyValueStore<string, V>,
    cutoff: number,
    timeOf: (value: V) => number,
    keep: (id: string) => boolean = () => false,
  ): Promise<number> {
    const ids = (await this.takeBefore(cutoff)).flatMap(([, id]) => (keep(id) ? [] : [id]));
    let deleted = 0;
    for (let from = 0; from < ids.length; from += EXPIRY_READ_CHUNK) {
      const chunk = ids.slice(from, from + EXPIRY_READ_CHUNK);
      const values = await store.getMany(chunk);
      chunk.forEach((id, i) => {
        const value = values[i];
        if (value === undefined || timeOf(value) >= cutoff) return;
        store.delete(id);
        deleted += 1;
      });
    }
    return deleted;
  }
}

/** Ids whose values one multi-get of an expiry reads. */
const EXPIRY_READ_CHUNK = 10_000;

const TIME_DIGITS = 16;

function indexKey(time: number, id: string): string {
  return `${String(Math.max(0, Math.trunc(time))).padStart(TIME_DIGITS, '0')}|${id}`;
}

import type { KeyValueStore } from '../topology/index.js';

/**
 * For a key-value store of `key → event time`: which keys were written in which
 * minute of event time, so that expiry deletes just the old keys instead of
 * scanning the store. In memory, per task; rebuilt from the store on first use
 * (so after a restore too). Create it in a processor supplier (once per task).
 */
export class ExpiryIndex {
  private byMinute: Map<number, string[]> | undefined;

  constructor(private readonly store: KeyValueStore<string, number>) {}

  /** Records that `id` was written with `time`; call it after each `put`. */
  async add(id: string, time: number): Promise<void> {
    const index = await this.index();
    const minute = Math.floor(time / 60_000);
    const ids = index.get(minute);
    if (ids === undefined) index.set(minute, [id]);
    else ids.push(id);
  }

  /** Deletes the ids last seen before `cutoff`. */
  async forgetBefore(cutoff: number): Promise<void> {
    const index = await this.index();
    for (const [minute, ids] of index) {
      if ((minute + 1) * 60_000 > cutoff) continue;
      for (const id of ids) {
        const time = await this.store.get(id);
        // an id seen again later was indexed again under its newer minute
        if (time !== undefined && time < cutoff) this.store.delete(id);
      }
      index.delete(minute);
    }
  }

  private async index(): Promise<Map<number, string[]>> {
    if (this.byMinute === undefined) {
      const rebuilt = new Map<number, string[]>();
      for await (const [id, time] of this.store.all()) {
        const minute = Math.floor(time / 60_000);
        const ids = rebuilt.get(minute);
        if (ids === undefined) rebuilt.set(minute, [id]);
        else ids.push(id);
      }
      this.byMinute ??= rebuilt;
    }
    return this.byMinute;
  }
}

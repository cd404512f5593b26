/**
 * The window starts of each key, in order: how a sliding-window aggregator
 * finds the few windows near a record without a range scan of its store (an
 * in-memory store scans every entry for a range; a persistent one flushes its
 * write buffer first). Keys are identified by their serialised bytes. It is a
 * per-task mirror of the store, rebuilt from it when the task starts; windows
 * the store no longer has are forgotten when found missing, and windows too
 * old for any record to reach are forgotten as stream time moves on.
 */
export class WindowStartIndex {
  private readonly byKey = new Map<string, number[]>();

  /** Records that `key` has a window starting at `start` (idempotent). */
  add(key: string, start: number): void {
    let starts = this.byKey.get(key);
    if (starts === undefined) {
      starts = [];
      this.byKey.set(key, starts);
    }
    const at = lowerBound(starts, start);
    if (starts[at] !== start) starts.splice(at, 0, start);
  }

  /** Forgets one window of `key` (e.g. one that retention deleted from the store). */
  remove(key: string, start: number): void {
    const starts = this.byKey.get(key);
    if (starts === undefined) return;
    const at = lowerBound(starts, start);
    if (starts[at] === start) starts.splice(at, 1);
    if (starts.length === 0) this.byKey.delete(key);
  }

  /** Forgets every window starting before `start`, of every key: windows no record can reach any more. */
  removeStartingBefore(start: number): void {
    for (const [key, starts] of this.byKey) {
      const keep = lowerBound(starts, start);
      if (keep === starts.length) this.byKey.delete(key);
      else if (keep > 0) starts.splice(0, keep);
    }
  }

  /** The window starts of `key` with `from <= start <= to`, ascending. */
  between(key: string, from: number, to: number): number[] {
    const starts = this.byKey.get(key);
    if (starts === undefined) return [];
    return starts.slice(lowerBound(starts, from), lowerBound(starts, to + 1));
  }
}

/** The first index of `sorted` whose value is at least `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

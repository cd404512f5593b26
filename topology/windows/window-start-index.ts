/**
 * The window starts of each key, in order: how a sliding-window aggregator
 * finds the few windows near a record without a range scan of its store (an
 * in-memory store scans every entry for a range; a persistent one flushes its
 * write buffer first). Keys are identified by their serialised bytes. It is a
 * per-task mirror of the store, rebuilt from it when the task starts.
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

import type { KpiWindowSummary, Track } from '../kpi-window.js';
import { sortNonNegative } from './sort-latencies.js';

/**
 * Rank tests compare latencies on a log scale, so that a tolerance is a
 * ratio ("10% slower") whatever the service's typical latency. The offset
 * keeps a 0 ms sample (a coarse timer) finite; it is far below any real
 * latency, and ranks do not depend on it.
 */
export const LOG_OFFSET_MS = 1e-3;
export const logLatency = (ms: number): number => Math.log(ms + LOG_OFFSET_MS);

/** A window's median log-latency and how many samples it rests on. */
export interface WindowMedian {
  readonly median: number;
  readonly count: number;
}

/** One track's latency samples over all its windows, ready for the tests. */
export interface PooledLatencies {
  /** Every sample in ms, ascending. */
  readonly sorted: Float64Array;
  /** Log-latencies of the samples inside the outlier fences, ascending. */
  readonly cleanedLog: Float64Array;
  readonly outliersRemoved: number;
  readonly windowMedians: readonly WindowMedian[];
}

/** The value at quantile `p` of ascending `sorted` (linear between order statistics; R's type 7). */
export function quantileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const at = (n - 1) * p;
  const below = Math.floor(at);
  const above = Math.min(n - 1, below + 1);
  return sorted[below]! + (at - below) * (sorted[above]! - sorted[below]!);
}

/**
 * Index of the first element of ascending `sorted` that is >= `value` (or
 * > `value` when `after`): where `value` would be inserted, before or after
 * its equals.
 */
export function lowerBound(sorted: ArrayLike<number>, value: number, after = false): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const v = sorted[mid]!;
    if (v < value || (after && v === value)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The median of `values` (reordered in place): Hoare's selection, linear time, no full sort. */
function medianOf(values: Float64Array): number {
  const n = values.length;
  const upper = selectInPlace(values, n >> 1);
  if (n % 2 === 1) return upper;
  let lower = values[0]!;
  for (let i = 1; i < n >> 1; i++) if (values[i]! > lower) lower = values[i]!;
  return (lower + upper) / 2;
}

/** Reorders `a` so that a[k] is its k-th smallest (0-based), smaller ones before it; returns a[k]. */
function selectInPlace(a: Float64Array, k: number): number {
  let low = 0;
  let high = a.length - 1;
  while (low < high) {
    const pivot = a[(low + high) >>> 1]!;
    let i = low;
    let j = high;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) high = j;
    else if (k >= i) low = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * Pools a track's latency samples, checks them (finite, >= 0, else a
 * RangeError naming the window) and drops outliers as Kayenta does: beyond
 * the first quartile − k × IQR or the third quartile + k × IQR, k = 3 by
 * default. Such latencies (a GC pause, a retry storm in one pod) would
 * otherwise move a rank test of the typical latency; the tail test still
 * sees them, through the sketch.
 */
export function poolLatencies(
  track: Track,
  windows: readonly KpiWindowSummary[],
  iqrFactor: number,
): PooledLatencies {
  let total = 0;
  for (const w of windows) total += w.latencySamples.length;
  const all = new Float64Array(total);
  const windowMedians: WindowMedian[] = [];
  let at = 0;
  for (const w of windows) {
    const samples = w.latencySamples;
    const start = at;
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      if (!(v >= 0 && v < Number.POSITIVE_INFINITY)) {
        throw new RangeError(
          `${track} window ${w.windowId}: latency samples must be finite and >= 0 ms, got ${v}`,
        );
      }
      all[at++] = v === 0 ? 0 : v; // −0 would sort after every positive bit pattern
    }
    if (at > start)
      windowMedians.push({ median: logLatency(medianOf(all.slice(start, at))), count: at - start });
  }
  sortNonNegative(all);
  const q1 = quantileOfSorted(all, 0.25);
  const q3 = quantileOfSorted(all, 0.75);
  const spread = iqrFactor * (q3 - q1);
  const first = total === 0 ? 0 : lowerBound(all, q1 - spread);
  const end = total === 0 ? 0 : lowerBound(all, q3 + spread, true);
  const cleanedLog = new Float64Array(end - first);
  for (let i = first; i < end; i++) cleanedLog[i - first] = logLatency(all[i]!);
  return { sorted: all, cleanedLog, outliersRemoved: total - (end - first), windowMedians };
}

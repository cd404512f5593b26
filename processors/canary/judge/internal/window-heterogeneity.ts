import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import { quantileOfSorted, type WindowMedian } from './pooled-latencies.js';

/** Windows with fewer samples than this say too little about their own median to count. */
const MIN_WINDOW_SAMPLES = 20;

/** Tail probabilities are kept above this, where the normal quantile is still exact (|z| <= 8.2). */
const SMALLEST_TAIL = 1e-16;

/**
 * How much more a track's windows scatter than chance allows: `factor` (>= 1)
 * multiplies the variance of the track's side of a test; `df` is the number
 * of degrees of freedom it was estimated with (Infinity when not estimated).
 */
export interface Heterogeneity {
  readonly factor: number;
  readonly df: number;
}

const NONE: Heterogeneity = { factor: 1, df: Number.POSITIVE_INFINITY };

/**
 * Window heterogeneity: do a track's windows differ more than their own
 * sampling noise explains?
 *
 * The tests pool a track's windows as if every request were an independent
 * draw from one distribution. A baseline whose latency drifts from minute to
 * minute (a noisy neighbour, a cache warming) breaks that: its pooled sample
 * looks far more precise than it is, and a canary could be "significantly"
 * slower than a baseline that merely had a few fast minutes. So each track
 * gets a variance inflation factor: Cochran's Q of the per-window medians
 * (their weighted squared spread around the track's centre, in units of the
 * spread a median of that many samples would have by chance) over its
 * degrees of freedom, windows − 1. About 1 for windows that look alike; 20
 * means the windows scatter 20 times (in variance) more than chance, and the
 * test's standard error is widened to match. Never below 1.
 */
export function medianHeterogeneity(
  windowMedians: readonly WindowMedian[],
  sortedLogs: ArrayLike<number>,
): Heterogeneity {
  const usable = windowMedians.filter((w) => w.count >= MIN_WINDOW_SAMPLES);
  if (usable.length < 2) return NONE;
  // 1 / density at the median, from the spread of the middle 20% of the pooled sample:
  // a median of n draws varies with variance (1 / density)² / (4n)
  const band = 0.1;
  const inverseDensity =
    (quantileOfSorted(sortedLogs, 0.5 + band) - quantileOfSorted(sortedLogs, 0.5 - band)) / (2 * band);
  if (!(inverseDensity > 0)) return NONE;
  const weightPerSample = 4 / (inverseDensity * inverseDensity);
  let weightSum = 0;
  let weighted = 0;
  for (const w of usable) {
    weightSum += w.count;
    weighted += w.count * w.median;
  }
  const centre = weighted / weightSum;
  let q = 0;
  for (const w of usable) q += weightPerSample * w.count * (w.median - centre) ** 2;
  const df = usable.length - 1;
  return { factor: Math.max(1, q / df), df };
}

/**
 * The same for error counts: Pearson's dispersion statistic of the per-window
 * counts against one common rate, over its degrees of freedom (the
 * over-dispersion of a binomial). Error bursts confined to a few windows make
 * it large, and the error test then counts the track's requests as fewer
 * independent ones. Never below 1; 1 when there are no errors at all.
 */
export function countOverdispersion(
  windows: readonly { readonly events: number; readonly trials: number }[],
): Heterogeneity {
  const used = windows.filter((w) => w.trials > 0);
  if (used.length < 2) return NONE;
  let events = 0;
  let trials = 0;
  for (const w of used) {
    events += w.events;
    trials += w.trials;
  }
  const rate = events / trials;
  if (rate <= 0 || rate >= 1) return NONE;
  let chiSquare = 0;
  for (const w of used) {
    const expected = w.trials * rate;
    chiSquare += (w.events - expected) ** 2 / (expected * (1 - rate));
  }
  const df = used.length - 1;
  return { factor: Math.max(1, chiSquare / df), df };
}

/** How a two-sample statistic is widened: its variance × `inflation`, read as Student t with `df`. */
export interface Widening {
  readonly inflation: number;
  readonly df: number;
}

/**
 * Combines both tracks' heterogeneity for a statistic whose variance is
 * `canaryVariance` + `baselineVariance` when windows look alike. The part of
 * the widened variance that comes from window scatter is itself estimated
 * from few windows, so the widened z is read as a Student t with
 * Welch–Satterthwaite degrees of freedom: many when the scatter is small
 * next to the sampling noise, close to windows − 1 when it dominates. With
 * three windows and a drifting baseline, that is the difference between a
 * false alarm and a hold.
 */
export function twoSampleWidening(
  canary: Heterogeneity,
  baseline: Heterogeneity,
  canaryVariance: number,
  baselineVariance: number,
): Widening {
  const total = canary.factor * canaryVariance + baseline.factor * baselineVariance;
  const scatter = (h: Heterogeneity, variance: number): number =>
    h.factor > 1 ? ((h.factor - 1) * variance) ** 2 / h.df : 0;
  const uncertainty = scatter(canary, canaryVariance) + scatter(baseline, baselineVariance);
  return {
    inflation: total / (canaryVariance + baselineVariance),
    df: uncertainty > 0 ? (total * total) / uncertainty : Number.POSITIVE_INFINITY,
  };
}

/**
 * `z` (in standard deviations of the un-widened statistic) widened, as the
 * normal z with the same tail probability, so the sequential test can read it.
 * Capped at ±8.2, far beyond any decision line.
 */
export function widenedZ(z: number, widening: Widening): number {
  const t = z / Math.sqrt(widening.inflation);
  if (widening.df === Number.POSITIVE_INFINITY) return t;
  const lowerTail = Math.max(SMALLEST_TAIL, tCdf(-Math.abs(t), widening.df));
  return -Math.sign(t) * normalQuantile(lowerTail, 0, 1);
}

/** How many un-widened standard deviations a widened z of `criticalZ` spans: the half-width of an interval. */
export function widenedReach(criticalZ: number, widening: Widening): number {
  if (!Number.isFinite(criticalZ)) return Number.POSITIVE_INFINITY;
  // a Student t needs a larger reach than the normal: start there and double until past it
  let low = criticalZ * Math.sqrt(widening.inflation);
  if (widening.df === Number.POSITIVE_INFINITY) return low;
  let high = low * 2;
  while (widenedZ(high, widening) < criticalZ) {
    low = high;
    high *= 2;
    if (high > 1e6) return Number.POSITIVE_INFINITY;
  }
  for (let i = 0; i < 24; i++) {
    const mid = (low + high) / 2;
    if (widenedZ(mid, widening) >= criticalZ) high = mid;
    else low = mid;
  }
  return high;
}

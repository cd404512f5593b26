import { type SequentialDecision, sequentialDecision } from './always-valid.js';
import { countDifferencesAtMost, differenceOrderStatistic, mannWhitneyAtShift } from './mann-whitney.js';
import { quantileOfSorted } from './pooled-latencies.js';
import { type Widening, widenedReach, widenedZ } from './window-heterogeneity.js';

/** Shifts are found to 5e-4 on the log scale, i.e. ratios to 0.05%. */
const SHIFT_PRECISION = 5e-4;

/**
 * The estimate and its interval read at most this many evenly spaced order
 * statistics of each sample (its quantiles at 1/2000 steps, so the shape is
 * kept to 0.05%); the decision always reads every sample. Each step of the
 * searches is a pass over both samples, and passes over 20,000 + 20,000
 * latencies would dominate a judgement.
 */
const ESTIMATE_SAMPLE_LIMIT = 2000;

/** `sorted` itself, or `limit` of its order statistics spread evenly over it (still ascending). */
function thinned(sorted: Float64Array, limit: number): Float64Array {
  if (sorted.length <= limit) return sorted;
  const out = new Float64Array(limit);
  for (let k = 0; k < limit; k++) out[k] = sorted[Math.floor(((k + 0.5) * sorted.length) / limit)]!;
  return out;
}

export interface RankComparison extends SequentialDecision {
  /** Mann-Whitney z of canary shifted down by the tolerance, widened for window heterogeneity. */
  readonly z: number;
  /** Hodges-Lehmann estimate of the canary − baseline shift. */
  readonly shift: number;
  /** Always-valid interval of the shift; null where the data cannot bound it yet. */
  readonly lower: number | null;
  readonly upper: number | null;
}

/**
 * Kayenta's Mann-Whitney judgement, made sequential: is the canary (x)
 * shifted above the baseline (y) by more than `tolerance`?
 *
 * Kayenta computes a confidence interval of the Hodges-Lehmann shift and
 * calls the metric high when the whole interval lies above the allowed
 * effect. Here the same question is asked as a test: U of the canary shifted
 * down by the tolerance. A significantly positive z (always-valid p-value,
 * see always-valid.ts) means the interval lies above the tolerance: fail. A
 * significantly negative z means it lies below: pass. Between, hold.
 *
 * The effect is measured as the probability of superiority: θ = U / (n·m) − ½,
 * the chance a shifted canary value beats a baseline value, minus a coin toss;
 * `mixtureScale` is the spread of θ the sequential test is tuned to.
 * `widening` widens the standard error when windows differ more than their
 * samples explain (window-heterogeneity.ts).
 */
export function compareByRanks(
  x: Float64Array,
  y: Float64Array,
  tolerance: number,
  mixtureScale: number,
  alpha: number,
  widening: Widening,
): RankComparison {
  const n = x.length;
  const m = y.length;
  const pairs = n * m;
  const atTolerance = mannWhitneyAtShift(x, y, tolerance);
  const widen = Math.sqrt(widening.inflation);
  const z = widenedZ(atTolerance.z, widening);
  const decision = sequentialDecision(z, (atTolerance.sd * widen) / pairs, mixtureScale, alpha);
  // the estimate and interval, on (at most) ESTIMATE_SAMPLE_LIMIT order statistics per side
  const xs = thinned(x, ESTIMATE_SAMPLE_LIMIT);
  const ys = thinned(y, ESTIMATE_SAMPLE_LIMIT);
  const thinnedPairs = xs.length * ys.length;
  // a rough standard error of the shift, to start the searches at the right scale
  const spread = (sorted: Float64Array): number =>
    quantileOfSorted(sorted, 0.75) - quantileOfSorted(sorted, 0.25);
  const step = Math.max(SHIFT_PRECISION, ((spread(x) + spread(y)) / 2) * Math.sqrt(1 / n + 1 / m));
  const guess = quantileOfSorted(x, 0.5) - quantileOfSorted(y, 0.5);
  const shift = differenceOrderStatistic(xs, ys, Math.ceil(thinnedPairs / 2), guess, step, SHIFT_PRECISION);
  // The always-valid interval holds the shifts whose U stays within the critical distance of n·m/2.
  // U changes almost linearly with the shift across the interval (the distribution of differences is
  // far wider), so each end is placed by the count of differences at a first guess of it: one pass each.
  const reachInSd = widenedReach(decision.criticalZ, widening);
  const reach = reachInSd * atTolerance.sd * (thinnedPairs / pairs);
  const guessWidth = Math.max(SHIFT_PRECISION, reachInSd * step);
  const end = (side: 1 | -1): number | null => {
    if (!(reach < thinnedPairs / 2)) return null; // more than all pairs: unbounded yet
    const counted = countDifferencesAtMost(xs, ys, shift + side * guessWidth) - thinnedPairs / 2;
    const width = (guessWidth * reach) / Math.abs(counted);
    return Number.isFinite(width) && side * counted > 0 ? shift + side * width : null;
  };
  return {
    ...decision,
    z,
    shift,
    lower: end(-1),
    upper: end(1),
  };
}

/**
 * The Mann-Whitney U test and the Hodges-Lehmann shift, on two ascending
 * samples x (canary) and y (baseline).
 *
 * In plain words: pair every canary value with every baseline value and count
 * the pairs where the canary's is larger (a tie counts half). That count, U,
 * is n·m/2 when neither side tends to be larger. It uses only the order of
 * the values, so a few extreme latencies cannot sway it, and no bell curve is
 * assumed. For the sample sizes here U is close to normal with a known
 * variance, reduced when values tie (the tie correction below), which turns
 * U into a z-score.
 *
 * The Hodges-Lehmann estimate is the median of all n·m differences
 * x_i − y_j: "how much larger is a canary value than a baseline value,
 * typically". Testing U after shifting the canary down by d asks whether the
 * shift exceeds d; the shifts that no test rejects form the confidence
 * interval of the estimate, whose ends are order statistics of the
 * differences. Nothing here materialises the n·m differences: counting the
 * differences below a value is one merge pass over the sorted samples, and a
 * quantile of the differences is found by a search on that count.
 */

export interface MannWhitneyResult {
  /** Pairs where x − shift > y, plus half the ties. */
  readonly u: number;
  /** Standard deviation of U with no difference, tie-corrected. */
  readonly sd: number;
  /** (U − n·m/2) / sd; 0 when every value ties. */
  readonly z: number;
}

/** Mann-Whitney U of `x − shift` against `y` (both ascending), with the normal approximation. */
export function mannWhitneyAtShift(x: Float64Array, y: Float64Array, shift: number): MannWhitneyResult {
  const n = x.length;
  const m = y.length;
  let i = 0;
  let j = 0;
  let greater = 0;
  let ties = 0;
  let tieTerm = 0;
  while (i < n || j < m) {
    const xv = i < n ? x[i]! - shift : Number.POSITIVE_INFINITY;
    const yv = j < m ? y[j]! : Number.POSITIVE_INFINITY;
    const v = Math.min(xv, yv);
    let a = 0;
    while (i < n && x[i]! - shift === v) {
      a++;
      i++;
    }
    const yBelow = j;
    let b = 0;
    while (j < m && y[j]! === v) {
      b++;
      j++;
    }
    greater += a * yBelow;
    ties += a * b;
    const t = a + b;
    tieTerm += t * t * t - t;
  }
  const u = greater + ties / 2;
  const total = n + m;
  const variance = ((n * m) / 12) * (total + 1 - tieTerm / (total * (total - 1)));
  const sd = Math.sqrt(Math.max(variance, 0));
  return { u, sd, z: sd > 0 ? (u - (n * m) / 2) / sd : 0 };
}

/** How many differences x_i − y_j are <= d (x, y ascending), in one merge pass. */
export function countDifferencesAtMost(x: Float64Array, y: Float64Array, d: number): number {
  const m = y.length;
  let j = 0;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const threshold = x[i]! - d;
    while (j < m && y[j]! < threshold) j++;
    count += m - j;
  }
  return count;
}

/**
 * The k-th smallest (1-based) of the n·m differences x_i − y_j, to within
 * `precision`: the smallest d (to that precision) with at least k
 * differences <= d. Each count is a pass over both samples, so passes are
 * few: a bracket grown from `guess` by doubling steps (start `step`), then
 * regula falsi on the count with the Illinois safeguard, which converges in a
 * handful of passes where the count is nearly linear, as it is around any
 * quantile of a smooth distribution of differences.
 */
export function differenceOrderStatistic(
  x: Float64Array,
  y: Float64Array,
  k: number,
  guess: number,
  step: number,
  precision: number,
): number {
  // aim between the (k-1)-th and k-th difference
  const target = k - 0.5;
  let low = guess;
  let high = guess;
  let fLow = countDifferencesAtMost(x, y, guess) - target;
  let fHigh = fLow;
  let reach = Math.max(step, precision);
  if (fLow > 0) {
    do {
      high = low;
      fHigh = fLow;
      low = high - reach;
      reach *= 2;
      fLow = countDifferencesAtMost(x, y, low) - target;
    } while (fLow > 0);
  } else {
    do {
      low = high;
      fLow = fHigh;
      high = low + reach;
      reach *= 2;
      fHigh = countDifferencesAtMost(x, y, high) - target;
    } while (fHigh < 0);
  }
  let kept = 0;
  for (let i = 0; i < 100 && high - low > precision; i++) {
    const interpolated = low + ((high - low) * -fLow) / (fHigh - fLow);
    const mid = Math.min(Math.max(interpolated, low + precision / 4), high - precision / 4);
    const f = countDifferencesAtMost(x, y, mid) - target;
    if (f > 0) {
      high = mid;
      fHigh = f;
      if (kept === -1) fLow /= 2;
      kept = -1;
    } else {
      low = mid;
      fLow = f;
      if (kept === 1) fHigh /= 2;
      kept = 1;
    }
  }
  return high;
}

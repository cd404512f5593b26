import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import type { TestStatus } from '../judgement.js';

/**
 * Always-valid decisions for a judge that looks after every window.
 *
 * A fixed-sample test at 1% checked after each of 20 windows would wrongly
 * alarm far more often than 1% of the time: each look is a new chance for
 * noise to cross the line. The judge uses a mixture sequential probability
 * ratio test (mSPRT; Robbins 1970, Johari et al. 2017 "always valid
 * p-values"): instead of asking "is the effect zero?" once, it bets on every
 * possible effect size at once, weighted by a half-normal prior of spread
 * `mixtureScale`, and tracks the likelihood ratio of that bet against "no
 * effect beyond the tolerance". Under the null hypothesis that ratio is a
 * fair game (a martingale), so by Ville's inequality it ever reaches 1/α with
 * probability at most α, however many times it is checked. 1 / ratio is thus
 * a p-value that stays valid at every look, and "ratio ≥ 1/α" is a line that
 * a healthy canary crosses at most α of the time over the whole rollout.
 *
 * The statistic given is z = estimate / standard error, with the estimate
 * approximately normal (rank statistics, log quantiles and rate differences
 * all are for the sample sizes the judge requires), so the guarantee is
 * asymptotic. The price of validity is a higher line than a one-look test:
 * z ≈ 3.4–3.8 instead of 2.33 at α = 1%.
 */

/**
 * The log of the one-sided mixture likelihood ratio for "the effect is
 * positive", for an estimate `z` standard errors above zero whose prior spread
 * is `precisionRatio` = (mixtureScale / standardError)² squared standard errors.
 */
export function logMixtureRatio(z: number, precisionRatio: number): number {
  const c = precisionRatio;
  const shrink = c / (1 + c);
  const tail = normalCdf(z * Math.sqrt(shrink), 0, 1);
  if (tail === 0) return Number.NEGATIVE_INFINITY;
  return Math.LN2 - 0.5 * Math.log1p(c) + 0.5 * shrink * z * z + Math.log(tail);
}

/** The always-valid p-value against "the effect is not positive": min(1, 1 / mixture ratio). */
export function alwaysValidPValue(z: number, precisionRatio: number): number {
  return Math.min(1, Math.exp(-logMixtureRatio(z, precisionRatio)));
}

/** The z at which the always-valid p-value reaches `alpha`: the line a decision must cross. */
export function criticalZ(precisionRatio: number, alpha: number): number {
  const target = Math.log(1 / alpha);
  // the two-sided mixture's line in closed form; the one-sided line lies within ±1 of it
  const c = precisionRatio;
  const guess = Math.sqrt(((1 + c) / c) * (2 * Math.log(1 / (2 * alpha)) + Math.log1p(c)));
  let low = Math.max(0, guess - 1);
  let high = guess + 1;
  while (logMixtureRatio(high, c) < target) high *= 2;
  for (let i = 0; i < 30; i++) {
    const mid = (low + high) / 2;
    if (logMixtureRatio(mid, c) >= target) high = mid;
    else low = mid;
  }
  return high;
}

export interface SequentialDecision {
  readonly status: Exclude<TestStatus, 'insufficient'>;
  /** Against "within tolerance": small → worse than allowed. */
  readonly pValue: number;
  /** Against "worse than allowed": small → within tolerance. */
  readonly pValueWithin: number;
  /** How far from zero a z must be for a decision at this look (bounds of always-valid intervals). */
  readonly criticalZ: number;
}

/**
 * Decides one test from `z` = (estimate − tolerance) / standard error:
 * `fail` when the canary is shown worse than the tolerance, `pass` when it is
 * shown within it, each at level `alpha` over all looks.
 */
export function sequentialDecision(
  z: number,
  standardError: number,
  mixtureScale: number,
  alpha: number,
): SequentialDecision {
  if (!(standardError > 0 && Number.isFinite(z))) {
    // degenerate data (e.g. every latency equal): nothing to decide on
    return { status: 'inconclusive', pValue: 1, pValueWithin: 1, criticalZ: Number.POSITIVE_INFINITY };
  }
  const precisionRatio = (mixtureScale / standardError) ** 2;
  const pValue = alwaysValidPValue(z, precisionRatio);
  const pValueWithin = alwaysValidPValue(-z, precisionRatio);
  const status = pValue <= alpha ? 'fail' : pValueWithin <= alpha ? 'pass' : 'inconclusive';
  return { status, pValue, pValueWithin, criticalZ: criticalZ(precisionRatio, alpha) };
}

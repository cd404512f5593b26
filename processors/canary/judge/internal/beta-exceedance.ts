import betaCdf from '@stdlib/stats-base-dists-beta-cdf';
import betaLogPdf from '@stdlib/stats-base-dists-beta-logpdf';

export interface BetaParams {
  readonly alpha: number;
  readonly beta: number;
}

/** Simpson intervals (even), under 0.2 standard deviations wide: error about 1e-5 or less. */
const INTERVALS = 128;
const REACH = 12;

const meanOf = (p: BetaParams): number => p.alpha / (p.alpha + p.beta);
const sdOf = (p: BetaParams): number => {
  const mean = meanOf(p);
  return Math.sqrt((mean * (1 - mean)) / (p.alpha + p.beta + 1));
};

/**
 * P(X > (1 + relative)·Y + absolute) for independent X ~ Beta(x) and
 * Y ~ Beta(y): with X the canary's and Y the baseline's posterior error rate,
 * the probability that the canary is worse than the tolerance allows.
 *
 * Computed by numeric integration (Simpson's rule) rather than Monte Carlo,
 * so it is exact to about 1e-5 and the same on every run: the density of the
 * narrower posterior times the other's CDF at the matching point, over ±12
 * standard deviations of the narrower one (integrating over the wider one
 * would step over the other's CDF where it jumps). Both shapes must be >= 1,
 * so the densities are finite.
 */
export function probabilityExceeds(x: BetaParams, y: BetaParams, relative: number, absolute: number): number {
  const scale = 1 + relative;
  if (sdOf(x) <= scale * sdOf(y)) {
    // over X: P(Y < (X − absolute) / scale)
    return integrate(x, (v) =>
      v <= absolute ? 0 : betaCdf(Math.min(1, (v - absolute) / scale), y.alpha, y.beta),
    );
  }
  // over Y: P(X > scale·Y + absolute)
  return integrate(y, (v) => {
    const bar = scale * v + absolute;
    return bar >= 1 ? 0 : 1 - betaCdf(bar, x.alpha, x.beta);
  });
}

/** ∫ density(v) · g(v) dv for v ~ Beta(p), by Simpson's rule over the bulk of the density. */
function integrate(p: BetaParams, g: (v: number) => number): number {
  const mean = meanOf(p);
  const sd = sdOf(p);
  const low = Math.max(0, mean - REACH * sd);
  const high = Math.min(1, mean + REACH * sd);
  const step = (high - low) / INTERVALS;
  if (!(step > 0)) return g(mean);
  const logDensity = betaLogPdf.factory(p.alpha, p.beta);
  let sum = 0;
  for (let i = 0; i <= INTERVALS; i++) {
    const v = low + i * step;
    const weight = i === 0 || i === INTERVALS ? 1 : i % 2 === 1 ? 4 : 2;
    const density = Math.exp(logDensity(v));
    if (density > 0) sum += weight * density * g(v);
  }
  return Math.min(1, Math.max(0, (sum * step) / 3));
}

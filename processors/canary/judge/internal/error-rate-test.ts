import type { TestEvidence, TestStatus } from '../judgement.js';
import { sequentialDecision } from './always-valid.js';
import { type BetaParams, probabilityExceeds } from './beta-exceedance.js';
import {
  evidenceOf,
  insufficientEvidence,
  type JudgeContext,
  pairOf,
  type TrackData,
  verdictWords,
} from './judge-context.js';
import {
  countOverdispersion,
  type Heterogeneity,
  twoSampleWidening,
  widenedZ,
} from './window-heterogeneity.js';

const STATISTIC = 'z of posterior error-rate excess over tolerance';

const percent = (rate: number): string => `${(rate * 100).toFixed(3)}%`;

/** The posterior Beta of a track's error rate, its counts shrunk by the track's over-dispersion. */
function posteriorOf(track: TrackData, prior: BetaParams, overdispersion: Heterogeneity): BetaParams {
  const errors = track.errors / overdispersion.factor;
  const requests = track.requests / overdispersion.factor;
  return { alpha: prior.alpha + errors, beta: prior.beta + requests - errors };
}

const meanOf = (p: BetaParams): number => p.alpha / (p.alpha + p.beta);
const varianceOf = (p: BetaParams): number => {
  const mean = meanOf(p);
  return (mean * (1 - mean)) / (p.alpha + p.beta + 1);
};

/**
 * Error rate: a Bayesian beta-binomial comparison.
 *
 * Each track's error rate gets a Beta posterior: the prior (uniform by
 * default) updated with its errors and successes. The test's headline number
 * is the posterior probability that the canary's rate exceeds
 * baseline × (1 + relative) + absolute: "how sure are we the canary is worse
 * than allowed". Unlike a rank test it sees rare errors: canary errors
 * [0, 1, 2, 1, 0, 0] in six windows of 500 requests against none leave that
 * probability near one half, so the test does not pass.
 *
 * Decisions: pass when that probability is at most 5%. Fail needs it at least
 * 99% and the always-valid p-value of the posterior excess (its mean over its
 * standard deviation, as a z) at most 1% (always-valid.ts), so checking after
 * every window does not add false rollbacks. Error bursts confined to a few
 * windows count the requests as fewer independent ones (window-heterogeneity.ts).
 */
export function errorRateTest(ctx: JudgeContext): TestEvidence {
  const { canary, baseline, config, alpha } = ctx;
  const { relative, absolute } = config.errorTolerance;
  const samples = pairOf(canary.requests, baseline.requests);
  const rateOf = (t: TrackData): number => (t.requests === 0 ? 0 : t.errors / t.requests);
  const observed = pairOf(rateOf(canary), rateOf(baseline));
  const effectName = 'error-rate difference (canary − baseline)';
  const tolerance = relative * observed.baseline + absolute;
  if (canary.requests < config.minRequests || baseline.requests < config.minRequests) {
    const effect = { name: effectName, estimate: observed.canary - observed.baseline, tolerance };
    return insufficientEvidence(
      ctx,
      'error-rate',
      STATISTIC,
      effect,
      samples,
      `${config.minRequests} requests`,
    );
  }
  const counts = (t: TrackData) => t.windows.map((w) => ({ events: w.errorCount, trials: w.requestCount }));
  const canaryScatter = countOverdispersion(counts(canary));
  const baselineScatter = countOverdispersion(counts(baseline));
  const canaryPosterior = posteriorOf(canary, config.errorPrior, canaryScatter);
  const baselinePosterior = posteriorOf(baseline, config.errorPrior, baselineScatter);
  const posteriorWorse = probabilityExceeds(canaryPosterior, baselinePosterior, relative, absolute);

  const scale = 1 + relative;
  const excess = meanOf(canaryPosterior) - scale * meanOf(baselinePosterior) - absolute;
  const canaryVariance = varianceOf(canaryPosterior);
  const baselineVariance = scale * scale * varianceOf(baselinePosterior);
  const se = Math.sqrt(canaryVariance + baselineVariance);
  // the posterior variances already carry the over-dispersion; what is left to allow for
  // is that it was estimated from few windows
  const z = widenedZ(excess / se, {
    inflation: 1,
    df: twoSampleWidening(canaryScatter, baselineScatter, canaryVariance, baselineVariance).df,
  });
  const decision = sequentialDecision(z, se, config.mixtureScale['error-rate'], alpha);
  const status: TestStatus =
    decision.pValue <= alpha && posteriorWorse >= config.errorPosteriorFail
      ? 'fail'
      : posteriorWorse <= config.errorPosteriorPass
        ? 'pass'
        : 'inconclusive';

  const difference = observed.canary - observed.baseline;
  const differenceSe = Math.sqrt(varianceOf(canaryPosterior) + varianceOf(baselinePosterior));
  const reach = decision.criticalZ * differenceSe;
  const bounded = Number.isFinite(reach);
  return evidenceOf(ctx, {
    test: 'error-rate',
    status,
    summary:
      `error-rate: canary ${percent(observed.canary)} vs baseline ${percent(observed.baseline)}; ` +
      `probability the canary exceeds baseline × ${scale} + ${percent(absolute)}: ${(posteriorWorse * 100).toFixed(1)}%: ` +
      verdictWords(status),
    statisticName: STATISTIC,
    statistic: z,
    pValue: decision.pValue,
    pValueWithin: decision.pValueWithin,
    posteriorWorse,
    effect: {
      name: effectName,
      estimate: difference,
      lower: bounded ? difference - reach : null,
      upper: bounded ? difference + reach : null,
      tolerance,
    },
    samples,
    heterogeneity: pairOf(canaryScatter.factor, baselineScatter.factor),
  });
}

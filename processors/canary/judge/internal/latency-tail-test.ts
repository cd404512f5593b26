import type { TestEvidence } from '../judgement.js';
import { LatencySketch } from '../latency-sketch.js';
import { sequentialDecision } from './always-valid.js';
import {
  evidenceOf,
  insufficientEvidence,
  type JudgeContext,
  pairOf,
  ratioEffect,
  ratioFinding,
  times,
} from './judge-context.js';
import { logLatency } from './pooled-latencies.js';

const STATISTIC = 'z of log tail-quantile ratio at tolerance';

/**
 * The tail quantile of a sketch on the log scale, and its standard error.
 *
 * The error comes from order statistics, with no assumption about the
 * distribution: the number of requests below the true quantile q is binomial,
 * so the estimate wanders about one binomial standard deviation in rank,
 * h = √(q(1 − q) / n) in quantile, and half the log-distance between the
 * quantiles at q − h and q + h is its standard error. Never below the
 * sketch's own 1% accuracy.
 */
function logQuantileWithError(
  sketch: LatencySketch,
  q: number,
): { readonly value: number; readonly se: number } {
  const h = Math.sqrt((q * (1 - q)) / sketch.count);
  const below = logLatency(sketch.quantile(Math.max(0, q - h)));
  const above = logLatency(sketch.quantile(Math.min(1, q + h)));
  return {
    value: logLatency(sketch.quantile(q)),
    se: Math.max(LatencySketch.RELATIVE_ACCURACY, (above - below) / 2),
  };
}

/**
 * Latency tail: is the canary's p99 more than the tolerance (25%) above the
 * baseline's?
 *
 * The rank tests look at typical requests and drop outliers, so a canary
 * whose slowest 2% got twice as slow passes them. This test reads the
 * windows' sketches, which count every request, outliers included: the log
 * ratio of the two p99s against the log of the tolerance, in standard errors
 * (a quantile test with distribution-free order-statistic errors), decided
 * always-valid like the others.
 */
export function latencyTailTest(ctx: JudgeContext): TestEvidence {
  const { canary, baseline, config, alpha } = ctx;
  const q = config.tailQuantile;
  const tolerance = 1 + config.tailTolerance;
  const canarySketch = LatencySketch.merged(canary.windows.map((w) => w.latencySketch));
  const baselineSketch = LatencySketch.merged(baseline.windows.map((w) => w.latencySketch));
  const samples = pairOf(canarySketch.count, baselineSketch.count);
  const label = `p${Math.round(q * 1000) / 10}`;
  const effectName = `${label} ratio (canary / baseline)`;
  const needed = Math.ceil(config.tailMinExceedances / (1 - q));
  if (samples.canary < needed || samples.baseline < needed) {
    return insufficientEvidence(
      ctx,
      'latency-tail',
      STATISTIC,
      { name: effectName, tolerance },
      samples,
      `${needed} latencies`,
    );
  }
  const c = logQuantileWithError(canarySketch, q);
  const b = logQuantileWithError(baselineSketch, q);
  const logRatio = c.value - b.value;
  const se = Math.sqrt(c.se * c.se + b.se * b.se);
  const z = (logRatio - Math.log(tolerance)) / se;
  const decision = sequentialDecision(z, se, config.mixtureScale['latency-tail'], alpha);
  const reach = decision.criticalZ * se;
  const effect = ratioEffect(effectName, logRatio, logRatio - reach, logRatio + reach, tolerance);
  return evidenceOf(ctx, {
    test: 'latency-tail',
    status: decision.status,
    summary: `latency-tail: canary's ${label} is ${times(effect.estimate)} the baseline's ${ratioFinding(ctx, effect, decision.status)}`,
    statisticName: STATISTIC,
    statistic: z,
    pValue: decision.pValue,
    pValueWithin: decision.pValueWithin,
    effect,
    samples,
  });
}

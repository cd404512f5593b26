import type { CountPair, JudgeTestName, TestEvidence } from '../judgement.js';
import {
  evidenceOf,
  insufficientEvidence,
  type JudgeContext,
  pairOf,
  ratioEffect,
  ratioFinding,
  times,
} from './judge-context.js';
import { compareByRanks } from './rank-comparison.js';
import type { Widening } from './window-heterogeneity.js';

/** One of the latency tests that compare two log-scale samples by ranks. */
export interface RankRatioTest {
  readonly test: JudgeTestName;
  readonly statisticName: string;
  /** What the ratio measures, e.g. 'typical latency ratio (canary / baseline)'. */
  readonly effectName: string;
  /** Largest ratio that passes, e.g. 1.1. */
  readonly tolerance: number;
  /** The summary's opening, given the estimated ratio, e.g. "canary's typical latency is 1.2× the baseline's". */
  readonly describe: (ratio: string) => string;
  readonly widening: Widening;
  readonly heterogeneity?: CountPair;
}

/**
 * Runs a rank comparison (rank-comparison.ts) of the canary's log-scale
 * values `x` against the baseline's `y` at log(tolerance), and reports it as
 * a ratio: the latency-shift and latency-dispersion tests differ only in what
 * they feed it. Insufficient below the configured latency samples.
 */
export function rankRatioTest(
  ctx: JudgeContext,
  spec: RankRatioTest,
  x: Float64Array,
  y: Float64Array,
): TestEvidence {
  const { canary, baseline, config, alpha } = ctx;
  const { test, statisticName, effectName, tolerance } = spec;
  const samples = pairOf(x.length, y.length);
  if (x.length < config.minLatencySamples || y.length < config.minLatencySamples) {
    const needed = `${config.minLatencySamples} latency samples`;
    return insufficientEvidence(ctx, test, statisticName, { name: effectName, tolerance }, samples, needed);
  }
  const r = compareByRanks(x, y, Math.log(tolerance), config.mixtureScale[test], alpha, spec.widening);
  const effect = ratioEffect(effectName, r.shift, r.lower, r.upper, tolerance);
  return evidenceOf(ctx, {
    test,
    status: r.status,
    summary: `${test}: ${spec.describe(times(effect.estimate))} ${ratioFinding(ctx, effect, r.status)}`,
    statisticName,
    statistic: r.z,
    pValue: r.pValue,
    pValueWithin: r.pValueWithin,
    effect,
    samples,
    outliersRemoved: pairOf(canary.latencies.outliersRemoved, baseline.latencies.outliersRemoved),
    ...(spec.heterogeneity === undefined ? {} : { heterogeneity: spec.heterogeneity }),
  });
}

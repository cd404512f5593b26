import { errorRateTest } from './internal/error-rate-test.js';
import { type JudgeContext, pairOf, trackData } from './internal/judge-context.js';
import { latencyDispersionTest } from './internal/latency-dispersion-test.js';
import { latencyShiftTest } from './internal/latency-shift-test.js';
import { latencyTailTest } from './internal/latency-tail-test.js';
import { type JudgeConfigOverrides, resolveJudgeConfig } from './judge-config.js';
import type { Judgement, TestEvidence, Verdict } from './judgement.js';
import type { KpiWindowSummary } from './kpi-window.js';

/**
 * Judges a canary against its baseline over the closed KPI windows so far.
 * Stateless and deterministic: call it again with one more window each time
 * one closes.
 *
 * Four tests, each with a tolerance (JudgeConfig):
 * - latency-shift: is a typical canary request slower? (Mann-Whitney U and
 *   the Hodges-Lehmann shift after outlier removal, Kayenta's method);
 * - error-rate: is the canary's error rate higher? (Bayesian beta-binomial);
 * - latency-tail: is the canary's p99 higher? (quantile test on the sketches);
 * - latency-dispersion: do the canary's latencies spread wider?
 *   (Brown–Forsythe-style rank test on deviations from the median).
 *
 * Judging after every window does not inflate false rollbacks: every fail
 * (and every latency pass) is an always-valid decision, a mixture sequential
 * probability ratio test (mSPRT) rather than alpha-spending over a planned
 * number of looks, so the chance that a test ever wrongly fails stays at
 * (1 − confidence) / 2 = 1% however long the rollout runs (always-valid.ts).
 * The error test passes on its posterior probability alone.
 * Verdict: `hold` until each track has `minWindows` windows and every
 * test has its minimum data; then `rollback` as soon as any test shows the
 * canary worse than its tolerance, `promote` once every test shows it within
 * tolerance, `hold` in between. Tests are one-sided: a canary that is better
 * (faster, fewer errors) passes.
 *
 * Throws a RangeError naming the bad window or config field.
 *
 * @example
 *   const { verdict, score, tests } = judgeRollout(canaryWindows, baselineWindows, { latencyTolerance: 0.05 });
 */
export function judgeRollout(
  canaryWindows: readonly KpiWindowSummary[],
  baselineWindows: readonly KpiWindowSummary[],
  overrides: JudgeConfigOverrides = {},
): Judgement {
  const config = resolveJudgeConfig(overrides);
  const ctx: JudgeContext = {
    canary: trackData('canary', canaryWindows, config),
    baseline: trackData('baseline', baselineWindows, config),
    config,
    alpha: (1 - config.confidence) / 2,
  };
  const tests: TestEvidence[] = [
    latencyShiftTest(ctx),
    errorRateTest(ctx),
    latencyTailTest(ctx),
    latencyDispersionTest(ctx),
  ];

  const reasons: string[] = [];
  for (const [track, windows] of [
    ['canary', canaryWindows.length],
    ['baseline', baselineWindows.length],
  ] as const) {
    if (windows < config.minWindows) {
      reasons.push(`waiting for windows: ${track} has ${windows} of the ${config.minWindows} needed`);
    }
  }
  for (const t of tests) if (t.status === 'insufficient') reasons.push(t.summary);
  const failed = tests.filter((t) => t.status === 'fail');
  let verdict: Verdict;
  if (reasons.length > 0) {
    verdict = 'hold';
  } else if (failed.length > 0) {
    verdict = 'rollback';
    for (const t of failed) reasons.push(t.summary);
  } else if (tests.every((t) => t.status === 'pass')) {
    verdict = 'promote';
    for (const t of tests) reasons.push(t.summary);
  } else {
    verdict = 'hold';
    for (const t of tests) if (t.status === 'inconclusive') reasons.push(t.summary);
  }

  let passing = 0;
  let total = 0;
  for (const t of tests) {
    const weight = config.weights[t.test];
    total += weight;
    if (t.status === 'pass') passing += weight;
  }
  return {
    verdict,
    score: Math.round((1000 * passing) / total) / 10,
    reasons,
    tests,
    windows: pairOf(canaryWindows.length, baselineWindows.length),
    requests: pairOf(ctx.canary.requests, ctx.baseline.requests),
  };
}

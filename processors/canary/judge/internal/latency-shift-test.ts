import type { TestEvidence } from '../judgement.js';
import type { JudgeContext } from './judge-context.js';
import { rankRatioTest } from './rank-ratio-test.js';
import { medianHeterogeneity, twoSampleWidening } from './window-heterogeneity.js';

/**
 * Latency shift: is the canary's typical latency more than the tolerance
 * (10%) above the baseline's?
 *
 * Kayenta's method: drop outliers (IQR, factor 3), then a Mann-Whitney U test
 * with a Hodges-Lehmann estimate of the shift, at 98% confidence, judged
 * against an allowed effect. On log latencies, so the shift is a ratio: "a
 * canary request typically takes 1.2× a baseline request". Windows that
 * scatter more than chance (a noisy baseline) widen the test's error
 * (window-heterogeneity.ts), and the decision is always-valid
 * (always-valid.ts), so checking after every window does not add false
 * rollbacks.
 */
export function latencyShiftTest(ctx: JudgeContext): TestEvidence {
  const { canary, baseline } = ctx;
  const x = canary.latencies.cleanedLog;
  const y = baseline.latencies.cleanedLog;
  const canaryScatter = medianHeterogeneity(canary.latencies.windowMedians, x);
  const baselineScatter = medianHeterogeneity(baseline.latencies.windowMedians, y);
  return rankRatioTest(
    ctx,
    {
      test: 'latency-shift',
      statisticName: 'mann-whitney z at tolerance',
      effectName: 'typical latency ratio (canary / baseline)',
      tolerance: 1 + ctx.config.latencyTolerance,
      describe: (ratio) => `canary's typical latency is ${ratio} the baseline's`,
      widening: twoSampleWidening(canaryScatter, baselineScatter, 1 / x.length, 1 / y.length),
      heterogeneity: { canary: canaryScatter.factor, baseline: baselineScatter.factor },
    },
    x,
    y,
  );
}

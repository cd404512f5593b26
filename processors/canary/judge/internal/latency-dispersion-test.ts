import type { TestEvidence } from '../judgement.js';
import type { JudgeContext } from './judge-context.js';
import { lowerBound, quantileOfSorted } from './pooled-latencies.js';
import { rankRatioTest } from './rank-ratio-test.js';

/** Deviations smaller than this (in log units: 0.0001%) count as equal, so log stays finite. */
const DEVIATION_FLOOR = 1e-6;

/**
 * log |v − median| of each log-latency, ascending: how far each request
 * strays from the track's typical one. The deviations below the median and
 * those above are each already in order, so one merge sorts them.
 */
function logDeviations(logs: Float64Array): Float64Array {
  const median = quantileOfSorted(logs, 0.5);
  const out = new Float64Array(logs.length);
  let below = lowerBound(logs, median) - 1;
  let above = below + 1;
  for (let o = 0; o < out.length; o++) {
    const down = below >= 0 ? median - logs[below]! : Number.POSITIVE_INFINITY;
    const up = above < logs.length ? logs[above]! - median : Number.POSITIVE_INFINITY;
    let deviation: number;
    if (down <= up) {
      deviation = down;
      below--;
    } else {
      deviation = up;
      above++;
    }
    out[o] = Math.log(Math.max(deviation, DEVIATION_FLOOR));
  }
  return out;
}

/**
 * Latency dispersion: do the canary's latencies spread more around their
 * median than the baseline's, by more than the tolerance (15%)?
 *
 * A canary can keep the median and still get worse for many users: half its
 * requests faster, half slower. This is the Brown–Forsythe idea (compare the
 * absolute deviations from each side's own median, which ignores where the
 * medians are) with a rank test instead of an F test: Mann-Whitney on the
 * logs of the deviations, so the effect is a ratio of typical deviations and
 * a few extreme values cannot sway it. Same always-valid decision as the
 * latency shift.
 */
export function latencyDispersionTest(ctx: JudgeContext): TestEvidence {
  const { canary, baseline } = ctx;
  return rankRatioTest(
    ctx,
    {
      test: 'latency-dispersion',
      statisticName: 'mann-whitney z of log absolute deviations at tolerance',
      effectName: 'typical deviation from the median, ratio (canary / baseline)',
      tolerance: 1 + ctx.config.dispersionTolerance,
      describe: (ratio) => `canary's latencies stray ${ratio} as far from their median as the baseline's`,
      // deviations from the pooled median: window drift, if any, already shows as spread
      widening: { inflation: 1, df: Number.POSITIVE_INFINITY },
    },
    logDeviations(canary.latencies.cleanedLog),
    logDeviations(baseline.latencies.cleanedLog),
  );
}

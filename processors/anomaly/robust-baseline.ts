/**
 * One robust baseline: an EWMA of the level and an EWMA of the absolute
 * deviation from it (a running, MAD-like spread), as plain JSON.
 *
 * The first points are averaged with weight `max(alpha, 1/n)`, so the start
 * is an ordinary mean rather than a bias towards the first value. Once the
 * baseline is warm, a point's pull is capped (Huber-style):
 * - on the level, its deviation counts as at most `cap × scale`, so one
 *   outlier moves the level by at most `alpha × cap × scale`;
 * - on the spread (updated at half the rate, `alpha / 2`), its absolute
 *   deviation counts as at most twice the current mean absolute deviation, so
 *   an outlier widens the spread by at most 5 % (alpha 0.1), and a run of
 *   them (a level shift) cannot blow it up for days.
 * A lasting level shift is still followed: the spread widens and the level
 * walks towards it.
 */
export interface Baseline {
  /** Points seen. */
  n: number;
  /** EWMA of the value. */
  level: number;
  /** EWMA of min(|value - level|, 2 × meanAbsDev). */
  meanAbsDev: number;
}

export interface BaselineParams {
  /** EWMA weight of a new point in the level, in (0, 1]; the spread uses half of it. */
  readonly alpha: number;
  /** Points before the caps apply (and before the baseline scores). */
  readonly warmup: number;
  /** Huber cap on the level's update, in units of scale. */
  readonly cap: number;
}

/** The cap on a point's absolute deviation in the spread's update, in units of the spread. */
const SPREAD_CAP = 2;
/**
 * For normally distributed values, the fixed point m of m = E[min(|x - mean|, 2m)]
 * is m = 0.737·σ (it would be √(2/π)·σ = 0.798·σ uncapped): this turns the spread into a σ estimate.
 */
const SPREAD_TO_SIGMA = 1 / 0.737;

export const emptyBaseline = (): Baseline => ({ n: 0, level: 0, meanAbsDev: 0 });

/** The σ-like spread of the baseline. */
export const scaleOf = (b: Baseline): number => b.meanAbsDev * SPREAD_TO_SIGMA;

/** Whether the baseline has seen enough points to score against. */
export const isWarm = (b: Baseline, params: BaselineParams): boolean => b.n >= params.warmup;

/** Updates `b` with `value` in place (call after scoring `value`, never before: no look-ahead). */
export function updateBaseline(b: Baseline, value: number, params: BaselineParams): void {
  if (b.n === 0) {
    b.n = 1;
    b.level = value;
    b.meanAbsDev = 0;
    return;
  }
  const start = 1 / (b.n + 1);
  const deviation = value - b.level;
  let levelStep = deviation;
  let spreadStep = Math.abs(deviation);
  if (isWarm(b, params)) {
    const limit = params.cap * scaleOf(b);
    levelStep = Math.max(-limit, Math.min(limit, deviation));
    spreadStep = Math.min(spreadStep, SPREAD_CAP * b.meanAbsDev);
  }
  b.meanAbsDev += Math.max(params.alpha / 2, start) * (spreadStep - b.meanAbsDev);
  b.level += Math.max(params.alpha, start) * levelStep;
  b.n += 1;
}

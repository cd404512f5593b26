/**
 * The univariate core of the anomaly detectors: scores a time series point by
 * point, online, in one pass, without look-ahead, in O(slots) memory.
 *
 * Each seasonal slot (hour of day, or hour of week) keeps a robust baseline
 * (robust-baseline.ts): an EWMA of the level and of the absolute deviation.
 * A point is scored against its slot's baseline as it was *before* the point:
 * `z = |x - level| / (scale + epsilon)`, mapped to [0, 1] by a logistic
 * (anomaly-score.ts). Only then is the point added to the slot (and to a
 * global, non-seasonal baseline), with its pull capped at `cap × scale`.
 * While a slot has seen fewer than `warmup` points, the global baseline
 * scores instead; while that is cold too, the score is 0.
 *
 * There is no randomness: the same points in the same order give the same
 * scores. The state is plain JSON (`toJSON` / `SeasonalScorer.fromJSON`), so it
 * can live in a state store.
 *
 * @example
 * const scorer = new SeasonalScorer({ seasonality: 'daily' });
 * for (const { time, value } of points) console.log(scorer.score(time, value));
 */
import { ConfigError } from '../../topology/errors.js';
import { anomalyScore, DEFAULT_SCORE_MAPPING, robustZ, type ScoreMapping } from './anomaly-score.js';
import {
  type Baseline,
  type BaselineParams,
  emptyBaseline,
  isWarm,
  scaleOf,
  updateBaseline,
} from './robust-baseline.js';
import { SEASONALITIES, type Seasonality, slotCount, slotOf } from './seasonal-slot.js';

export interface SeasonalScorerOptions {
  /** EWMA weight of a new point in its slot's level and spread, in (0, 1]. Default 0.1. */
  readonly alpha?: number;
  /** Slots: `daily` (24, hour of day, UTC), `weekly` (168, hour of week) or `none` (1). Default `daily`. */
  readonly seasonality?: Seasonality;
  /** Points a slot must have seen before it scores (the global baseline scores until then). Default 5. */
  readonly warmup?: number;
  /** Huber cap on a point's pull on the baseline, in units of scale. Default 3. */
  readonly cap?: number;
  /** Added to the scale, so that a flat series does not divide by zero. Default 1e-9. */
  readonly epsilon?: number;
  /** The z-score to [0, 1] mapping. Default: center 4, width 0.5. */
  readonly mapping?: ScoreMapping;
}

/** The scorer's state as JSON: one baseline per slot and a global one. */
export interface SeasonalScorerState {
  readonly version: 1;
  readonly seasonality: Seasonality;
  readonly global: Baseline;
  readonly slots: Baseline[];
}

export interface PointScore {
  /** In [0, 1]. */
  readonly score: number;
  /** The robust z-score, 0 during warm-up. */
  readonly z: number;
  /** The level the point was compared with (undefined during warm-up). */
  readonly baseline: number | undefined;
}

export class SeasonalScorer {
  readonly seasonality: Seasonality;
  private readonly params: BaselineParams;
  private readonly epsilon: number;
  private readonly mapping: ScoreMapping;
  private global: Baseline;
  private slots: Baseline[];

  /** `adopted`: a state the scorer works on in place (see `over`), whose seasonality wins over the options'. */
  constructor(options: SeasonalScorerOptions = {}, adopted?: SeasonalScorerState) {
    const { alpha = 0.1, warmup = 5, cap = 3, epsilon = 1e-9 } = options;
    const seasonality = adopted?.seasonality ?? options.seasonality ?? 'daily';
    const mapping = options.mapping ?? DEFAULT_SCORE_MAPPING;
    if (!(alpha > 0 && alpha <= 1)) throw new ConfigError(`alpha: expected a number in (0, 1], got ${alpha}`);
    if (!SEASONALITIES.includes(seasonality))
      throw new ConfigError(`seasonality: expected one of ${SEASONALITIES.join(', ')}, got '${seasonality}'`);
    if (!(Number.isInteger(warmup) && warmup >= 1))
      throw new ConfigError(`warmup: expected an integer >= 1, got ${warmup}`);
    if (!(cap > 0)) throw new ConfigError(`cap: expected a positive number, got ${cap}`);
    if (!(epsilon > 0)) throw new ConfigError(`epsilon: expected a positive number, got ${epsilon}`);
    if (!(mapping.width > 0))
      throw new ConfigError(`mapping.width: expected a positive number, got ${mapping.width}`);
    this.seasonality = seasonality;
    this.params = { alpha, warmup, cap };
    this.epsilon = epsilon;
    this.mapping = mapping;
    if (adopted !== undefined) checkState(adopted, slotCount(seasonality));
    this.slots = adopted?.slots ?? Array.from({ length: slotCount(seasonality) }, emptyBaseline);
    // without seasonality the one slot is the global baseline
    this.global = seasonality === 'none' ? (this.slots[0] as Baseline) : (adopted?.global ?? emptyBaseline());
  }

  /** Scores `value` at `timeMs` (epoch ms), then learns from it. Stateful. */
  score(timeMs: number, value: number): number {
    return this.scorePoint(timeMs, value).score;
  }

  /** Like `score`, with the z-score and the baseline it was measured against. */
  scorePoint(timeMs: number, value: number): PointScore {
    if (!Number.isFinite(value)) throw new RangeError(`value: expected a finite number, got ${value}`);
    if (!Number.isFinite(timeMs)) throw new RangeError(`timeMs: expected a finite number, got ${timeMs}`);
    const slot = this.slots[slotOf(this.seasonality, timeMs)] as Baseline;
    const reference = isWarm(slot, this.params)
      ? slot
      : isWarm(this.global, this.params)
        ? this.global
        : undefined;
    let result: PointScore = { score: 0, z: 0, baseline: undefined };
    if (reference !== undefined) {
      const z = robustZ(value, reference.level, scaleOf(reference), this.epsilon);
      result = { score: anomalyScore(z, this.mapping), z, baseline: reference.level };
    }
    // learn only after scoring: the score of a point never depends on the point itself or later ones
    updateBaseline(slot, value, this.params);
    if (this.global !== slot) updateBaseline(this.global, value, this.params);
    return result;
  }

  /** The state as JSON-safe data (a copy). */
  toJSON(): SeasonalScorerState {
    return {
      version: 1,
      seasonality: this.seasonality,
      global: { ...this.global },
      slots: this.slots.map((b) => ({ ...b })),
    };
  }

  /**
   * A scorer that works on `state` itself (no copy): scoring updates it in
   * place, so a caller that keeps states in a store reads and writes them
   * without a `toJSON` per point.
   */
  static over(state: SeasonalScorerState, options: SeasonalScorerOptions = {}): SeasonalScorer {
    return new SeasonalScorer(options, state);
  }

  /** A scorer that continues from `state`, with `options` (whose seasonality must match the state's). */
  static fromJSON(state: SeasonalScorerState, options: SeasonalScorerOptions = {}): SeasonalScorer {
    const scorer = new SeasonalScorer({ ...options, seasonality: state.seasonality });
    checkState(state, scorer.slots.length);
    scorer.slots = state.slots.map((b) => ({ ...b }));
    scorer.global = scorer.seasonality === 'none' ? (scorer.slots[0] as Baseline) : { ...state.global };
    return scorer;
  }
}

function checkState(state: SeasonalScorerState, slots: number): void {
  if (state.version !== 1) throw new ConfigError(`scorer state: unknown version ${String(state.version)}`);
  if (!SEASONALITIES.includes(state.seasonality))
    throw new ConfigError(`scorer state: unknown seasonality '${String(state.seasonality)}'`);
  if (state.slots.length !== slots)
    throw new ConfigError(
      `scorer state: ${state.slots.length} slots for seasonality '${state.seasonality}', expected ${slots}`,
    );
}

/** The anomaly detectors' public surface: the univariate seasonal scorer and its parts; the multivariate half-space trees. */
export { anomalyScore, DEFAULT_SCORE_MAPPING, robustZ, type ScoreMapping } from './anomaly-score.js';
export {
  type HalfSpacePointScore,
  HalfSpaceTrees,
  type HalfSpaceTreesOptions,
} from './half-space-trees.js';
export { type Baseline, type BaselineParams, scaleOf, updateBaseline } from './robust-baseline.js';
export {
  type PointScore,
  SeasonalScorer,
  type SeasonalScorerOptions,
  type SeasonalScorerState,
} from './seasonal-scorer.js';
export { SEASONALITIES, type Seasonality, slotCount, slotOf } from './seasonal-slot.js';

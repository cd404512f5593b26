/**
 * From a robust z-score to an anomaly score in [0, 1], with a logistic:
 * `score = 1 / (1 + exp(-(z - center) / width))`.
 * With the defaults (center 4, width 0.5): z = 2 scores 0.02, z = 3 scores
 * 0.12, z = 4 scores 0.5, z = 5 scores 0.88, z = 6 scores 0.98.
 */
export interface ScoreMapping {
  /** The z-score that scores 0.5. */
  readonly center: number;
  /** How many z units the score takes to go from 0.27 to 0.73 (half of it each side of the center). */
  readonly width: number;
}

export const DEFAULT_SCORE_MAPPING: ScoreMapping = { center: 4, width: 0.5 };

/** `|value - level| / (scale + epsilon)`. */
export const robustZ = (value: number, level: number, scale: number, epsilon: number): number =>
  Math.abs(value - level) / (scale + epsilon);

export function anomalyScore(z: number, mapping: ScoreMapping = DEFAULT_SCORE_MAPPING): number {
  return 1 / (1 + Math.exp(-(z - mapping.center) / mapping.width));
}

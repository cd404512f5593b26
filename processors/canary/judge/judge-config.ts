import type { JudgeTestName } from './judgement.js';

export type PerTest<T> = { readonly [K in JudgeTestName]: T };

/**
 * How strict the canary judge is. Every field has a default
 * (DEFAULT_JUDGE_CONFIG); tolerances are how much worse than the baseline a
 * canary may be and still pass.
 */
export interface JudgeConfig {
  /**
   * Two-sided confidence of each test's always-valid interval (Kayenta's
   * default, 0.98): each test wrongly fails a healthy canary, or wrongly
   * passes a bad one, with at most (1 - confidence) / 2 = 1% probability over
   * the whole rollout, however many windows it is judged after.
   */
  readonly confidence: number;
  /**
   * Closed windows each track needs before any verdict but hold. Four by
   * default: telling a drifting baseline from a regressed canary needs the
   * windows' scatter, which three windows estimate too loosely (seeded runs
   * against a baseline drifting ±15% a minute: 0.6% false rollbacks with 3,
   * 0.2% with 4).
   */
  readonly minWindows: number;
  /** Requests each track needs before any verdict but hold. */
  readonly minRequests: number;
  /** Latency samples each track needs (after outlier removal) before any verdict but hold. */
  readonly minLatencySamples: number;
  /** Latencies beyond quartile ± factor × inter-quartile range are dropped from the rank tests (Kayenta: 3). */
  readonly outlierIqrFactor: number;
  /** The canary's typical latency may exceed the baseline's by this fraction (0.1 = 10%). */
  readonly latencyTolerance: number;
  /** The tail quantile compared (0.99 = p99). */
  readonly tailQuantile: number;
  /** The canary's tail quantile may exceed the baseline's by this fraction. */
  readonly tailTolerance: number;
  /** Requests beyond the tail quantile each track needs for the tail test (10 → 1000 requests for p99). */
  readonly tailMinExceedances: number;
  /** The canary's typical deviation from its median may exceed the baseline's by this fraction. */
  readonly dispersionTolerance: number;
  /** The canary's error rate may be up to baseline × (1 + relative) + absolute. */
  readonly errorTolerance: { readonly relative: number; readonly absolute: number };
  /** Beta prior of both error rates (1, 1 = uniform); both at least 1. */
  readonly errorPrior: { readonly alpha: number; readonly beta: number };
  /** The error test passes when the posterior probability of "worse than tolerance" is at most this. */
  readonly errorPosteriorPass: number;
  /** The error test fails only when that posterior is at least this (and the always-valid p-value agrees). */
  readonly errorPosteriorFail: number;
  /**
   * Spread of the effect sizes each sequential test is tuned to, in the test's
   * own unit (probability of superiority, log ratio, rate difference). Only
   * how fast a decision comes depends on it, never its validity.
   */
  readonly mixtureScale: PerTest<number>;
  /** Weights of the tests in the score. */
  readonly weights: PerTest<number>;
}

export const DEFAULT_JUDGE_CONFIG: JudgeConfig = {
  confidence: 0.98,
  minWindows: 4,
  minRequests: 1000,
  minLatencySamples: 500,
  outlierIqrFactor: 3,
  latencyTolerance: 0.1,
  tailQuantile: 0.99,
  tailTolerance: 0.25,
  tailMinExceedances: 10,
  dispersionTolerance: 0.15,
  errorTolerance: { relative: 0.5, absolute: 0.001 },
  errorPrior: { alpha: 1, beta: 1 },
  errorPosteriorPass: 0.05,
  errorPosteriorFail: 0.99,
  mixtureScale: {
    'latency-shift': 0.05,
    'latency-dispersion': 0.05,
    'latency-tail': 0.25,
    'error-rate': 0.01,
  },
  weights: { 'latency-shift': 30, 'error-rate': 40, 'latency-tail': 15, 'latency-dispersion': 15 },
};

/** Overrides of some fields; nested objects may be given in part. */
export type JudgeConfigOverrides = {
  readonly [K in keyof JudgeConfig]?: JudgeConfig[K] extends number ? number : Partial<JudgeConfig[K]>;
};

/** The defaults with `overrides` applied, checked; throws a RangeError naming the first bad field. */
export function resolveJudgeConfig(overrides: JudgeConfigOverrides = {}): JudgeConfig {
  const d = DEFAULT_JUDGE_CONFIG;
  const config: JudgeConfig = {
    confidence: overrides.confidence ?? d.confidence,
    minWindows: overrides.minWindows ?? d.minWindows,
    minRequests: overrides.minRequests ?? d.minRequests,
    minLatencySamples: overrides.minLatencySamples ?? d.minLatencySamples,
    outlierIqrFactor: overrides.outlierIqrFactor ?? d.outlierIqrFactor,
    latencyTolerance: overrides.latencyTolerance ?? d.latencyTolerance,
    tailQuantile: overrides.tailQuantile ?? d.tailQuantile,
    tailTolerance: overrides.tailTolerance ?? d.tailTolerance,
    tailMinExceedances: overrides.tailMinExceedances ?? d.tailMinExceedances,
    dispersionTolerance: overrides.dispersionTolerance ?? d.dispersionTolerance,
    errorTolerance: { ...d.errorTolerance, ...overrides.errorTolerance },
    errorPrior: { ...d.errorPrior, ...overrides.errorPrior },
    errorPosteriorPass: overrides.errorPosteriorPass ?? d.errorPosteriorPass,
    errorPosteriorFail: overrides.errorPosteriorFail ?? d.errorPosteriorFail,
    mixtureScale: { ...d.mixtureScale, ...overrides.mixtureScale },
    weights: { ...d.weights, ...overrides.weights },
  };
  const within = (field: string, value: number, low: number, high: number, openLow = false): void => {
    const ok = Number.isFinite(value) && (openLow ? value > low : value >= low) && value <= high;
    if (!ok) {
      throw new RangeError(
        `canary judge config: ${field} must be within ${openLow ? '(' : '['}${low}, ${high}], got ${value}`,
      );
    }
  };
  const whole = (field: string, value: number): void => {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`canary judge config: ${field} must be a whole number >= 1, got ${value}`);
    }
  };
  within('confidence', config.confidence, 0.5, 0.999999, true);
  whole('minWindows', config.minWindows);
  whole('minRequests', config.minRequests);
  whole('minLatencySamples', config.minLatencySamples);
  within('outlierIqrFactor', config.outlierIqrFactor, 0, 100, true);
  within('latencyTolerance', config.latencyTolerance, 0, 10);
  within('tailQuantile', config.tailQuantile, 0.5, 0.9999);
  within('tailTolerance', config.tailTolerance, 0, 10);
  whole('tailMinExceedances', config.tailMinExceedances);
  within('dispersionTolerance', config.dispersionTolerance, 0, 10);
  within('errorTolerance.relative', config.errorTolerance.relative, 0, 100);
  within('errorTolerance.absolute', config.errorTolerance.absolute, 0, 1);
  within('errorPrior.alpha', config.errorPrior.alpha, 1, 1e6);
  within('errorPrior.beta', config.errorPrior.beta, 1, 1e6);
  within('errorPosteriorPass', config.errorPosteriorPass, 0, 0.5);
  within('errorPosteriorFail', config.errorPosteriorFail, 0.5, 1);
  for (const [test, scale] of Object.entries(config.mixtureScale))
    within(`mixtureScale.${test}`, scale, 0, 10, true);
  for (const [test, weight] of Object.entries(config.weights)) within(`weights.${test}`, weight, 0, 1e6);
  if (Object.values(config.weights).every((w) => w === 0)) {
    throw new RangeError('canary judge config: at least one of weights must be above 0');
  }
  return config;
}

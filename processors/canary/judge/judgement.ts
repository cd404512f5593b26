/** What the rollout controller should do now. */
export type Verdict = 'promote' | 'hold' | 'rollback';

/** The judge's four comparisons of canary against baseline. */
export type JudgeTestName = 'latency-shift' | 'error-rate' | 'latency-tail' | 'latency-dispersion';

/**
 * - `pass`: the canary is shown to be within the test's tolerance;
 * - `fail`: the canary is shown to be worse than the tolerance;
 * - `inconclusive`: neither yet, more windows will tell;
 * - `insufficient`: too little data to run the test at all.
 */
export type TestStatus = 'pass' | 'fail' | 'inconclusive' | 'insufficient';

export interface CountPair {
  readonly canary: number;
  readonly baseline: number;
}

/**
 * How much worse (or better) the canary is, in the test's own unit, with an
 * always-valid interval at the configured confidence: an interval that stays
 * right however often the rollout is judged. Bounds are null where the data
 * cannot bound them yet.
 */
export interface EffectEstimate {
  /** e.g. 'latency ratio', 'p99 ratio', 'error-rate difference'. */
  readonly name: string;
  readonly estimate: number;
  readonly lower: number | null;
  readonly upper: number | null;
  /** The largest value of `estimate` that still passes. */
  readonly tolerance: number;
}

export interface TestEvidence {
  readonly test: JudgeTestName;
  readonly status: TestStatus;
  /** The finding in plain words. */
  readonly summary: string;
  /** Name of the test statistic, e.g. 'mann-whitney z at tolerance'. */
  readonly statisticName: string;
  /** Positive when the canary looks worse than the tolerance, negative when better. */
  readonly statistic: number;
  /**
   * Always-valid p-value against "the canary is within tolerance": small means
   * the canary is worse than allowed. Stays valid when checked after every window.
   */
  readonly pValue: number;
  /** Always-valid p-value against "the canary is worse than allowed": small means it is within tolerance. */
  readonly pValueWithin: number;
  /** Error-rate test only: posterior probability that the canary's rate exceeds the tolerance. */
  readonly posteriorWorse: number | null;
  readonly effect: EffectEstimate;
  /** Observations the test used per track (latencies after outlier removal, or requests). */
  readonly samples: CountPair;
  /** Latencies dropped as outliers per track (0 where the test keeps all). */
  readonly outliersRemoved: CountPair;
  /**
   * Variance inflation from windows that differ more than chance allows
   * (1 = windows look alike; 3 = the test's standard error was widened √3 times).
   */
  readonly heterogeneity: CountPair;
  readonly windowIds: { readonly canary: readonly string[]; readonly baseline: readonly string[] };
}

export interface Judgement {
  readonly verdict: Verdict;
  /**
   * 0–100, as Kayenta reports one: the weighted share of tests that pass. A
   * test passes only once it has shown the canary within tolerance, so a young
   * rollout scores low and climbs; any failing test means rollback whatever
   * the score.
   */
  readonly score: number;
  /** Why this verdict, in plain words, one line per reason. */
  readonly reasons: readonly string[];
  readonly tests: readonly TestEvidence[];
  readonly windows: CountPair;
  readonly requests: CountPair;
}

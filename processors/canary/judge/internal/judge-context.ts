import type { JudgeConfig } from '../judge-config.js';
import type { CountPair, EffectEstimate, JudgeTestName, TestEvidence, TestStatus } from '../judgement.js';
import { checkKpiWindow, type KpiWindowSummary, type Track } from '../kpi-window.js';
import { type PooledLatencies, poolLatencies } from './pooled-latencies.js';

/** One track's windows and what the tests share about them. */
export interface TrackData {
  readonly windows: readonly KpiWindowSummary[];
  readonly windowIds: readonly string[];
  readonly requests: number;
  readonly errors: number;
  readonly latencies: PooledLatencies;
}

/** What every test reads. */
export interface JudgeContext {
  readonly canary: TrackData;
  readonly baseline: TrackData;
  readonly config: JudgeConfig;
  /** One-sided level of each decision: (1 − confidence) / 2. */
  readonly alpha: number;
}

export function trackData(
  track: Track,
  windows: readonly KpiWindowSummary[],
  config: JudgeConfig,
): TrackData {
  let requests = 0;
  let errors = 0;
  for (const w of windows) {
    checkKpiWindow(track, w);
    requests += w.requestCount;
    errors += w.errorCount;
  }
  return {
    windows,
    windowIds: windows.map((w) => w.windowId),
    requests,
    errors,
    latencies: poolLatencies(track, windows, config.outlierIqrFactor),
  };
}

export const pairOf = (canary: number, baseline: number): CountPair => ({ canary, baseline });

/** What a test itself finds; evidenceOf fills in the rest. */
export type Findings = Pick<
  TestEvidence,
  | 'test'
  | 'status'
  | 'summary'
  | 'statisticName'
  | 'statistic'
  | 'pValue'
  | 'pValueWithin'
  | 'effect'
  | 'samples'
> &
  Partial<Pick<TestEvidence, 'posteriorWorse' | 'outliersRemoved' | 'heterogeneity'>>;

/** A test's evidence: its findings, the windows it read, and neutral values for what it does not use. */
export function evidenceOf(ctx: JudgeContext, findings: Findings): TestEvidence {
  return {
    posteriorWorse: null,
    outliersRemoved: pairOf(0, 0),
    heterogeneity: pairOf(1, 1),
    ...findings,
    windowIds: { canary: ctx.canary.windowIds, baseline: ctx.baseline.windowIds },
  };
}

/** The closing words of a test's summary. */
export function verdictWords(status: TestStatus): string {
  switch (status) {
    case 'fail':
      return 'worse than allowed';
    case 'pass':
      return 'within tolerance';
    case 'inconclusive':
      return 'not decided yet';
    case 'insufficient':
      return 'too little data';
  }
}

/** Evidence of a test that did not run for lack of data: `needed` of something per track. */
export function insufficientEvidence(
  ctx: JudgeContext,
  test: JudgeTestName,
  statisticName: string,
  effect: Pick<EffectEstimate, 'name' | 'tolerance'> & Partial<EffectEstimate>,
  samples: CountPair,
  needed: string,
): TestEvidence {
  return evidenceOf(ctx, {
    test,
    status: 'insufficient',
    summary: `${test}: ${verdictWords('insufficient')}; needs ${needed} per track, has ${samples.canary} (canary) and ${samples.baseline} (baseline)`,
    statisticName,
    statistic: 0,
    pValue: 1,
    pValueWithin: 1,
    effect: { estimate: Number.NaN, lower: null, upper: null, ...effect },
    samples,
  });
}

/** A ratio effect (canary / baseline) from its log and the log bounds of its interval. */
export function ratioEffect(
  name: string,
  logEstimate: number,
  logLower: number | null,
  logUpper: number | null,
  tolerance: number,
): EffectEstimate {
  const ratio = (log: number | null): number | null =>
    log === null || !Number.isFinite(log) ? null : Math.exp(log);
  return { name, estimate: Math.exp(logEstimate), lower: ratio(logLower), upper: ratio(logUpper), tolerance };
}

/** A ratio for a summary, e.g. 1.234×. */
export const times = (ratio: number | null): string => (ratio === null ? '?' : `${ratio.toFixed(3)}×`);

/** The end of a ratio test's summary: "(always-valid 98% interval 1.1×–1.3×, tolerance 1.1×): worse than allowed". */
export function ratioFinding(ctx: JudgeContext, effect: EffectEstimate, status: TestStatus): string {
  return (
    `(always-valid ${ctx.config.confidence * 100}% interval ${times(effect.lower)}–${times(effect.upper)}, ` +
    `tolerance ${times(effect.tolerance)}): ${verdictWords(status)}`
  );
}

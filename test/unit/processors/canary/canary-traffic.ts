import {
  CANARY_SCENARIOS,
  type CanaryScenario,
  drawWindow,
  HEALTHY,
  type TrackModel,
} from '../../../../cli/canary-scenarios.js';
import {
  type JudgeConfigOverrides,
  judgeRollout,
  type KpiWindowSummary,
  LatencyReservoir,
  LatencySketch,
  type Verdict,
} from '../../../../processors/canary/judge/index.js';
import { seededRandom } from '../../../../processors/seeded-random.js';

/** A rollout scenario as these tests draw it (cli/canary-scenarios.ts holds the models). */
export type Scenario = Pick<CanaryScenario, 'name' | 'windows' | 'requestsPerWindow' | 'canary' | 'baseline'>;
export type { TrackModel };

const RESERVOIR_CAPACITY = 1000;

export const healthy: TrackModel = HEALTHY;

/** The scenarios of issue 11 (cli/canary-scenarios.ts), by the names these tests use. */
export const SCENARIOS = {
  identical: CANARY_SCENARIOS.identical,
  latencyShift: CANARY_SCENARIOS['latency-regression'],
  tail: CANARY_SCENARIOS['tail-regression'],
  variance: CANARY_SCENARIOS['variance-regression'],
  errors: CANARY_SCENARIOS['error-regression'],
  sparseErrors: CANARY_SCENARIOS['sparse-errors'],
  better: CANARY_SCENARIOS['better-canary'],
  littleTraffic: CANARY_SCENARIOS['low-traffic'],
  noisyBaseline: CANARY_SCENARIOS['noisy-baseline'],
} satisfies Record<string, Scenario>;

/** Draws one closed window of one track (cli/canary-scenarios.ts drawWindow) as the judge reads it. */
export function simulateWindow(
  model: TrackModel,
  requests: number,
  index: number,
  random: () => number,
): KpiWindowSummary {
  const draw = drawWindow(model, requests, index, random);
  const reservoir = new LatencyReservoir(RESERVOIR_CAPACITY, random);
  const latencySketch = new LatencySketch();
  for (const ms of draw.latencies) {
    reservoir.add(ms);
    latencySketch.add(ms);
  }
  return {
    windowId: `w${String(index).padStart(2, '0')}`,
    requestCount: requests,
    errorCount: draw.errors,
    latencySamples: reservoir.samples,
    latencySketch,
  };
}

/** A seeded run of `scenario`: each call draws the next window of both tracks and returns all so far. */
export function seededRollout(
  scenario: Scenario,
  seed: number,
): () => { readonly canary: readonly KpiWindowSummary[]; readonly baseline: readonly KpiWindowSummary[] } {
  const random = seededRandom(seed);
  const canary: KpiWindowSummary[] = [];
  const baseline: KpiWindowSummary[] = [];
  return () => {
    const w = canary.length;
    canary.push(simulateWindow(scenario.canary, scenario.requestsPerWindow, w, random));
    baseline.push(simulateWindow(scenario.baseline, scenario.requestsPerWindow, w, random));
    return { canary, baseline };
  };
}

/** Both tracks' windows of one seeded run of `scenario`. */
export function simulateRollout(
  scenario: Scenario,
  seed: number,
): { readonly canary: readonly KpiWindowSummary[]; readonly baseline: readonly KpiWindowSummary[] } {
  const next = seededRollout(scenario, seed);
  let all = next();
  for (let w = 1; w < scenario.windows; w++) all = next();
  return all;
}

/** What happened in one seeded rollout judged after every window. */
export interface RolloutOutcome {
  /** The first verdict other than hold ('hold' when none came). */
  readonly decision: Verdict;
  /** The window (1-based) it came at; 0 for none. */
  readonly windowsToDecision: number;
  readonly anyRollback: boolean;
  readonly anyPromote: boolean;
}

/**
 * Judges a seeded run of `scenario` after each of its windows. By default a
 * rollout ends at its first promote or rollback, as a controller would end it;
 * `judgeEveryWindow` keeps judging to the last window (a stricter count of
 * false rollbacks).
 */
export function judgeSeededRollout(
  scenario: Scenario,
  seed: number,
  options: { readonly judgeEveryWindow?: boolean; readonly config?: JudgeConfigOverrides } = {},
): RolloutOutcome {
  const nextWindow = seededRollout(scenario, seed);
  let decision: Verdict = 'hold';
  let windowsToDecision = 0;
  let anyRollback = false;
  let anyPromote = false;
  for (let w = 1; w <= scenario.windows; w++) {
    const { canary, baseline } = nextWindow();
    const { verdict } = judgeRollout(canary, baseline, options.config);
    anyRollback ||= verdict === 'rollback';
    anyPromote ||= verdict === 'promote';
    if (verdict !== 'hold' && decision === 'hold') {
      decision = verdict;
      windowsToDecision = w;
      if (!options.judgeEveryWindow) break;
    }
  }
  return { decision, windowsToDecision, anyRollback, anyPromote };
}

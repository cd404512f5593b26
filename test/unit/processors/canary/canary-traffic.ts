import { seededRandom } from '../../../../cli/seeded-random.js';
import {
  type JudgeConfigOverrides,
  judgeRollout,
  type KpiWindowSummary,
  LatencyReservoir,
  LatencySketch,
  type Verdict,
} from '../../../../processors/canary/judge/index.js';

/** How one track (canary or baseline) behaves in a simulated rollout. */
export interface TrackModel {
  /** Median latency in ms (log-normal body). */
  readonly medianMs: number;
  /** Standard deviation of log latency. */
  readonly sigma: number;
  readonly errorRate: number;
  /** Reshapes a latency drawn from the body; `z` is its standard-normal score. */
  readonly reshape?: (ms: number, z: number) => number;
  /** Per-window multiplicative latency drift: standard deviation of its log. */
  readonly windowJitter?: number;
  /** Per-window error-rate drift: standard deviation of the log of its factor. */
  readonly errorJitter?: number;
  /** Share of requests hit by a 10× stall (a GC pause). */
  readonly stallRate?: number;
  /** Fixed error counts per window, instead of drawing them. */
  readonly errorsPerWindow?: readonly number[];
}

export interface Scenario {
  readonly name: string;
  readonly windows: number;
  readonly requestsPerWindow: number;
  readonly canary: TrackModel;
  readonly baseline: TrackModel;
}

const RESERVOIR_CAPACITY = 1000;
const Z_98 = 2.0537489;

export const healthy: TrackModel = { medianMs: 100, sigma: 0.4, errorRate: 0.01 };

/** The scenarios of issue 11, with 500 requests per one-minute window. */
export const SCENARIOS = {
  identical: { name: 'identical', windows: 20, requestsPerWindow: 500, canary: healthy, baseline: healthy },
  latencyShift: {
    name: 'latency +20% median',
    windows: 20,
    requestsPerWindow: 500,
    canary: { ...healthy, medianMs: 120 },
    baseline: healthy,
  },
  tail: {
    name: 'p99 ×2, median same',
    windows: 20,
    requestsPerWindow: 500,
    canary: { ...healthy, reshape: (ms, z) => (z > Z_98 ? ms * 2 : ms) },
    baseline: healthy,
  },
  variance: {
    name: 'variance ×2, median same',
    windows: 20,
    requestsPerWindow: 500,
    canary: { ...healthy, reshape: (ms) => Math.max(1, 100 + (ms - 100) * Math.SQRT2) },
    baseline: healthy,
  },
  errors: {
    name: 'error rate 1% → 3%',
    windows: 20,
    requestsPerWindow: 500,
    canary: { ...healthy, errorRate: 0.03 },
    baseline: healthy,
  },
  sparseErrors: {
    name: 'sparse errors [0,1,2,1,0,0] vs none',
    windows: 6,
    requestsPerWindow: 500,
    canary: { ...healthy, errorsPerWindow: [0, 1, 2, 1, 0, 0] },
    baseline: { ...healthy, errorsPerWindow: [0, 0, 0, 0, 0, 0] },
  },
  better: {
    name: 'better canary',
    windows: 20,
    requestsPerWindow: 500,
    canary: { ...healthy, medianMs: 80, errorRate: 0.005 },
    baseline: healthy,
  },
  littleTraffic: {
    name: 'too little traffic',
    windows: 20,
    requestsPerWindow: 10,
    canary: healthy,
    baseline: healthy,
  },
  noisyBaseline: {
    name: 'noisy baseline',
    windows: 20,
    requestsPerWindow: 500,
    canary: healthy,
    baseline: { ...healthy, windowJitter: 0.15, errorJitter: 0.5, stallRate: 0.01 },
  },
} satisfies Record<string, Scenario>;

/** Standard normal draws from `random` (Box–Muller, both values of each pair used). */
function normalSource(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** Draws one closed window of one track: reservoir, sketch and counts, all from `random`. */
export function simulateWindow(
  model: TrackModel,
  requests: number,
  index: number,
  random: () => number,
): KpiWindowSummary {
  const normal = normalSource(random);
  const drift = Math.exp((model.windowJitter ?? 0) * normal());
  const errorRate = Math.min(1, model.errorRate * Math.exp((model.errorJitter ?? 0) * normal()));
  const reservoir = new LatencyReservoir(RESERVOIR_CAPACITY, random);
  const latencySketch = new LatencySketch();
  let drawnErrors = 0;
  for (let r = 0; r < requests; r++) {
    const z = normal();
    let ms = model.medianMs * Math.exp(model.sigma * z);
    if (model.reshape) ms = model.reshape(ms, z);
    ms *= drift;
    if (random() < (model.stallRate ?? 0)) ms *= 10;
    ms = Math.max(1, Math.round(ms));
    reservoir.add(ms);
    latencySketch.add(ms);
    if (random() < errorRate) drawnErrors++;
  }
  return {
    windowId: `w${String(index).padStart(2, '0')}`,
    requestCount: requests,
    errorCount: model.errorsPerWindow?.[index] ?? drawnErrors,
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

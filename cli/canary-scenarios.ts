/**
 * Labelled canary traffic (`veroai simulate --scenario <name>`, the canary
 * bench, the tests): a service rolling out a canary beside a baseline, each
 * track's latencies log-normal around a median, errors at a rate, per
 * scenario of issue 11. Seeded: the same seed gives the same requests.
 */

import { seededRandom } from '../processors/seeded-random.js';
import { userKeyOf } from '../processors/telemetry/user-key.js';
import {
  type CanaryCommand,
  type DeploymentTrack,
  EMPTY_PAYLOAD,
  rolloutKeyOf,
  type TelemetryEvent,
} from '../schemas/index.js';

/** How one track (canary or baseline) behaves. */
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

/** What a correct judge concludes on a scenario. */
export type ExpectedOutcome = 'rollback' | 'promote' | 'no-rollback' | 'no-promote' | 'hold';

export interface CanaryScenario {
  readonly name: string;
  readonly description: string;
  readonly windows: number;
  readonly requestsPerWindow: number;
  readonly canary: TrackModel;
  readonly baseline: TrackModel;
  readonly expected: ExpectedOutcome;
}

/** 98th percentile of the standard normal: beyond it a latency is in the tail. */
const Z_98 = 2.0537489;

export const HEALTHY: TrackModel = { medianMs: 100, sigma: 0.4, errorRate: 0.01 };

const scenario = (s: Omit<CanaryScenario, 'windows' | 'requestsPerWindow'> & Partial<CanaryScenario>) => ({
  windows: 20,
  requestsPerWindow: 500,
  ...s,
});

/** The scenarios of issue 11, by their CLI name. */
export const CANARY_SCENARIOS = {
  identical: scenario({
    name: 'identical',
    description: 'canary identical to baseline',
    canary: HEALTHY,
    baseline: HEALTHY,
    expected: 'no-rollback',
  }),
  'latency-regression': scenario({
    name: 'latency-regression',
    description: 'latency +20% median',
    canary: { ...HEALTHY, medianMs: 120 },
    baseline: HEALTHY,
    expected: 'rollback',
  }),
  'tail-regression': scenario({
    name: 'tail-regression',
    description: 'p99 ×2, median same',
    canary: { ...HEALTHY, reshape: (ms, z) => (z > Z_98 ? ms * 2 : ms) },
    baseline: HEALTHY,
    expected: 'rollback',
  }),
  'variance-regression': scenario({
    name: 'variance-regression',
    description: 'variance ×2, median same',
    canary: { ...HEALTHY, reshape: (ms) => Math.max(1, 100 + (ms - 100) * Math.SQRT2) },
    baseline: HEALTHY,
    expected: 'rollback',
  }),
  'error-regression': scenario({
    name: 'error-regression',
    description: 'error rate 1% → 3%',
    canary: { ...HEALTHY, errorRate: 0.03 },
    baseline: HEALTHY,
    expected: 'rollback',
  }),
  'sparse-errors': scenario({
    name: 'sparse-errors',
    description: 'canary errors [0,1,2,1,0,0] per window, baseline none',
    windows: 6,
    canary: { ...HEALTHY, errorsPerWindow: [0, 1, 2, 1, 0, 0] },
    baseline: { ...HEALTHY, errorsPerWindow: [0, 0, 0, 0, 0, 0] },
    expected: 'no-promote',
  }),
  'better-canary': scenario({
    name: 'better-canary',
    description: 'canary faster and with fewer errors',
    canary: { ...HEALTHY, medianMs: 80, errorRate: 0.005 },
    baseline: HEALTHY,
    expected: 'promote',
  }),
  'low-traffic': scenario({
    name: 'low-traffic',
    description: 'too little traffic to judge',
    requestsPerWindow: 10,
    canary: HEALTHY,
    baseline: HEALTHY,
    expected: 'hold',
  }),
  'noisy-baseline': scenario({
    name: 'noisy-baseline',
    description: 'baseline drifting between windows, with stalls; canary healthy',
    canary: HEALTHY,
    baseline: { ...HEALTHY, windowJitter: 0.15, errorJitter: 0.5, stallRate: 0.01 },
    expected: 'no-rollback',
  }),
} satisfies Record<string, CanaryScenario>;

export type CanaryScenarioName = keyof typeof CANARY_SCENARIOS;

/** Standard normal draws from `random` (Box–Muller, both values of each pair used). */
export function normalSource(random: () => number): () => number {
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

/** One window of one track: its latencies (whole ms, ≥ 1) and which requests failed. */
export interface WindowDraw {
  readonly latencies: number[];
  readonly failed: boolean[];
  readonly errors: number;
}

/** One request of a track: its latency in whole ms (≥ 1), drawn with the window's drift. */
export function drawLatency(
  model: TrackModel,
  drift: number,
  normal: () => number,
  random: () => number,
): number {
  const z = normal();
  let ms = model.medianMs * Math.exp(model.sigma * z);
  if (model.reshape) ms = model.reshape(ms, z);
  ms *= drift;
  if (random() < (model.stallRate ?? 0)) ms *= 10;
  return Math.max(1, Math.round(ms));
}

/** Draws the requests of window `index` of a track from `random`. */
export function drawWindow(
  model: TrackModel,
  requests: number,
  index: number,
  random: () => number,
): WindowDraw {
  const normal = normalSource(random);
  const drift = Math.exp((model.windowJitter ?? 0) * normal());
  const errorRate = Math.min(1, model.errorRate * Math.exp((model.errorJitter ?? 0) * normal()));
  const latencies: number[] = [];
  const failed: boolean[] = [];
  for (let r = 0; r < requests; r++) {
    latencies.push(drawLatency(model, drift, normal, random));
    failed.push(random() < errorRate);
  }
  const fixed = model.errorsPerWindow?.[index];
  if (fixed !== undefined) {
    // exactly that many failures, on the first requests of the window
    for (let r = 0; r < requests; r++) failed[r] = r < fixed;
  }
  return { latencies, failed, errors: failed.filter(Boolean).length };
}

export interface ScenarioTrafficOptions {
  readonly seed: number;
  /** Event time of the first window's start (epoch ms); a whole minute is best. */
  readonly startTime: number;
  readonly tenantId?: string;
  readonly service?: string;
  readonly windowMs?: number;
  readonly rolloutId?: string;
  /**
   * After the last window, one request per track this much later, so that
   * every task's stream time passes the last window's end plus grace and all
   * windows close. At least window + grace of the gate; default two windows.
   */
  readonly closeAfterMs?: number;
}

export interface ScenarioTraffic {
  /** The rollout's start, at `startTime`. */
  readonly start: CanaryCommand;
  /** `canary_commands` key of the start. */
  readonly commandKey: string;
  /** The requests of both tracks in event-time order. */
  readonly events: TelemetryEvent[];
  /**
   * One request per track `closeAfterMs` after the last window (see
   * ScenarioTrafficOptions): written after `events`, they close the last windows.
   */
  readonly closing: TelemetryEvent[];
  /** Event time at which the scenario's last window ends. */
  readonly end: number;
}

export const CANARY_VERSION = '2.0.0';
export const BASELINE_VERSION = '1.9.0';

/**
 * Builds the API requests of a rollout's service: `api_call` events naming
 * their deployment, 503 when failed, ids numbered within the rollout.
 */
export function rolloutRequests(options: {
  readonly tenantId: string;
  readonly service: string;
  readonly rolloutId: string;
  readonly random: () => number;
}): (
  time: number,
  track: DeploymentTrack,
  version: string,
  latencyMs: number,
  failed: boolean,
) => TelemetryEvent {
  const { tenantId, service, rolloutId, random } = options;
  let sequence = 0;
  return (time, track, version, latencyMs, failed) => {
    sequence += 1;
    return {
      eventId: `${rolloutId}-${sequence}`,
      timestamp: time,
      tenantId,
      userId: `user-${1 + Math.floor(random() * 200)}`,
      eventType: 'api_call',
      payload: {
        ...EMPTY_PAYLOAD,
        method: 'POST',
        path: '/v1/checkout',
        statusCode: failed ? 503 : 200,
        latencyMs,
      },
      metadata: { source: service, version },
      deployment: { service, version, track },
      clientIp: null,
      userAgent: null,
    };
  };
}

/** The command that starts a rollout of `service` from BASELINE_VERSION to CANARY_VERSION. */
export function startCommand(options: {
  readonly tenantId: string;
  readonly service: string;
  readonly rolloutId: string;
  readonly issuedAt: number;
  readonly issuedBy: string;
  readonly reason: string;
}): CanaryCommand {
  return {
    commandId: `${options.rolloutId}-start`,
    kind: 'start',
    rolloutId: options.rolloutId,
    tenantId: options.tenantId,
    service: options.service,
    canaryVersion: CANARY_VERSION,
    baselineVersion: BASELINE_VERSION,
    stableVersion: BASELINE_VERSION,
    issuedAt: options.issuedAt,
    issuedBy: options.issuedBy,
    reason: options.reason,
  };
}

/** The scenario's requests as TelemetryEvents, and the command that starts its rollout. */
export function scenarioTraffic(s: CanaryScenario, options: ScenarioTrafficOptions): ScenarioTraffic {
  const random = seededRandom(options.seed);
  const tenantId = options.tenantId ?? 'acme';
  const service = options.service ?? 'checkout';
  const windowMs = options.windowMs ?? 60_000;
  const rolloutId = options.rolloutId ?? `${service}-${CANARY_VERSION}-${options.seed}`;
  const event = rolloutRequests({ tenantId, service, rolloutId, random });
  const events: TelemetryEvent[] = [];
  for (let w = 0; w < s.windows; w++) {
    const windowStart = options.startTime + w * windowMs;
    const tracks = [
      {
        track: 'canary' as const,
        version: CANARY_VERSION,
        draw: drawWindow(s.canary, s.requestsPerWindow, w, random),
      },
      {
        track: 'baseline' as const,
        version: BASELINE_VERSION,
        draw: drawWindow(s.baseline, s.requestsPerWindow, w, random),
      },
    ];
    const inWindow: TelemetryEvent[] = [];
    for (const { track, version, draw } of tracks)
      draw.latencies.forEach((ms, r) => {
        const time = windowStart + Math.floor((r * windowMs) / s.requestsPerWindow);
        inWindow.push(event(time, track, version, ms, draw.failed[r]!));
      });
    inWindow.sort((a, b) => a.timestamp - b.timestamp);
    events.push(...inWindow);
  }
  const end = options.startTime + s.windows * windowMs;
  // each track's build is keyed (and partitioned) apart: each needs a later request of its own
  const closingTime = end + (options.closeAfterMs ?? 2 * windowMs);
  const closing = [
    event(closingTime, 'canary', CANARY_VERSION, 100, false),
    event(closingTime, 'baseline', BASELINE_VERSION, 100, false),
    event(closingTime, 'stable', BASELINE_VERSION, 100, false),
  ];
  return {
    start: startCommand({
      tenantId,
      service,
      rolloutId,
      issuedAt: options.startTime,
      issuedBy: 'veroai simulate',
      reason: s.description,
    }),
    commandKey: rolloutKeyOf(tenantId, service),
    events,
    closing,
    end,
  };
}

/** The key a scenario event is written to `raw_events` with. */
export const scenarioEventKey = (event: TelemetryEvent): string => userKeyOf(event);

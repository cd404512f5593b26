/**
 * The canary KPI gate's records (schemas/kpi_window.avsc,
 * canary_command.avsc, canary_decision.avsc): the contract between
 * processors/canary (which computes and judges), the rollout controllers and
 * api/ (which serves verdicts and takes commands).
 */
import type { DeploymentTrack } from './telemetry-event.js';

/** One closed KPI window of one service build on one track: the value of `kpi_windows`. */
export interface KpiWindow {
  readonly tenantId: string;
  readonly service: string;
  readonly version: string;
  readonly track: DeploymentTrack;
  /** Epoch ms, inclusive. */
  readonly windowStart: number;
  /** Epoch ms, exclusive. */
  readonly windowEnd: number;
  readonly requests: number;
  /** api_error events and api_call events with a 5xx status. */
  readonly errors: number;
  readonly latencyP50Ms: number | null;
  readonly latencyP90Ms: number | null;
  readonly latencyP99Ms: number | null;
  /** LatencySketch bytes (processors/canary/judge/latency-sketch.ts). */
  readonly latencySketch: Buffer;
  /** A uniform sample of the window's latencies (bounded reservoir). */
  readonly latencySamples: number[];
  /** Latencies seen in the window. */
  readonly latencyCount: number;
}

export const CANARY_COMMAND_KINDS = ['start', 'abort', 'promote'] as const;
export type CanaryCommandKind = (typeof CANARY_COMMAND_KINDS)[number];

/** A command on a rollout: the value of `canary_commands`, keyed `tenantId/service`. */
export interface CanaryCommand {
  readonly commandId: string;
  readonly kind: CanaryCommandKind;
  readonly rolloutId: string;
  readonly tenantId: string;
  readonly service: string;
  readonly canaryVersion: string | null;
  readonly baselineVersion: string | null;
  readonly stableVersion: string | null;
  /** Epoch ms. */
  readonly issuedAt: number;
  readonly issuedBy: string | null;
  readonly reason: string | null;
}

export const ROLLOUT_STATUSES = ['running', 'promoted', 'rolled_back', 'aborted'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

export const CANARY_VERDICTS = ['promote', 'hold', 'rollback'] as const;
export type CanaryVerdict = (typeof CANARY_VERDICTS)[number];

/** A judgement of a rollout: the value of `canary_decisions`, keyed by rolloutId. */
export interface CanaryDecision {
  readonly rolloutId: string;
  readonly tenantId: string;
  readonly service: string;
  readonly canaryVersion: string;
  readonly baselineVersion: string;
  readonly stableVersion: string | null;
  readonly status: RolloutStatus;
  readonly verdict: CanaryVerdict;
  /** 0–100. */
  readonly score: number;
  readonly summary: string;
  /** Event time, epoch ms. */
  readonly decidedAt: number;
  readonly windowsJudged: number;
  /** The judge's evidence as JSON (see README, Canary KPI gate). */
  readonly evidenceJson: string;
}

/** The key of `canary_commands` and of the rollout store: one rollout at a time per service. */
export const rolloutKeyOf = (tenantId: string, service: string): string => `${tenantId}/${service}`;

/** The key of `kpi_windows`: `tenantId/service/version/track`. */
export const kpiKeyOf = (w: Pick<KpiWindow, 'tenantId' | 'service' | 'version' | 'track'>): string =>
  `${w.tenantId}/${w.service}/${w.version}/${w.track}`;

import type { CanaryDecision, IncidentStatus, RolloutStatus, SecurityIncident } from '../schemas/index.js';

/**
 * How a store keeps one thing's latest state when its records may arrive
 * more than once and out of order (at-least-once, replays, restarts): by the
 * record's time, then, among records of the same time, by how far along its
 * lifecycle the record is. Every latest-state store applies one such order:
 * Redis inside its write script (comparing the same time and rank), memory
 * through `supersedesIn`.
 */
export interface LatestStateOrder<T> {
  /** The record's time (epoch ms): a later one replaces an earlier one. */
  timeOf(record: T): number;
  /** Among records of the same time, how final: a greater or equal rank replaces. */
  rankOf(record: T): number;
}

/**
 * Whether `next` may replace `current` under `order`: a later time, or the
 * same one and a rank at least as final. An equal one replaces (a replay
 * writes the same record again).
 */
export function supersedesIn<T>(order: LatestStateOrder<T>, next: T, current: T | null | undefined): boolean {
  if (current === null || current === undefined) return true;
  const nextTime = order.timeOf(next);
  const currentTime = order.timeOf(current);
  if (nextTime !== currentTime) return nextTime > currentTime;
  return order.rankOf(next) >= order.rankOf(current);
}

/**
 * Where a decision stands among its rollout's decisions of the same event
 * time: a running rollout's decision is superseded by the one that ended it
 * (promoted, rolled back or aborted in the same millisecond), never the reverse.
 */
export function canaryStatusRank(status: RolloutStatus): number {
  return status === 'running' ? 0 : 1;
}

/** A rollout's decisions: by event time (`decidedAt`), then running before ended. */
export const canaryDecisionOrder: LatestStateOrder<CanaryDecision> = {
  timeOf: (decision) => decision.decidedAt,
  rankOf: (decision) => canaryStatusRank(decision.status),
};

/** Whether a canary decision may replace its rollout's current one (`canaryDecisionOrder`). */
export function supersedes(next: CanaryDecision, current: CanaryDecision | null | undefined): boolean {
  return supersedesIn(canaryDecisionOrder, next, current);
}

/**
 * Where an incident's status stands in its lifecycle, for records of the
 * same `updatedAt`: open < escalated < auto_resolved and closed (both final:
 * between those two the later written wins).
 */
export function incidentStatusRank(status: IncidentStatus): number {
  switch (status) {
    case 'open':
      return 0;
    case 'escalated':
      return 1;
    case 'auto_resolved':
    case 'closed':
      return 2;
  }
}

/** Whether an incident has left its lifecycle for good (the stores expire it). */
export const isFinalIncidentStatus = (status: IncidentStatus): boolean => incidentStatusRank(status) === 2;

/** An incident's records: by `updatedAt`, then by lifecycle (`incidentStatusRank`). */
export const securityIncidentOrder: LatestStateOrder<SecurityIncident> = {
  timeOf: (incident) => incident.updatedAt,
  rankOf: (incident) => incidentStatusRank(incident.status),
};

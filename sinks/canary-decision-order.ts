import type { CanaryDecision, RolloutStatus } from '../schemas/index.js';

/**
 * Where a decision stands among its rollout's decisions of the same event
 * time: a running rollout's decision is superseded by the one that ended it
 * (promoted, rolled back or aborted in the same millisecond), never the reverse.
 */
export function canaryStatusRank(status: RolloutStatus): number {
  return status === 'running' ? 0 : 1;
}

/**
 * Whether `next` may replace `current` as its rollout's latest decision: a
 * later event time, or the same one and a status at least as final. An equal
 * one replaces (a replay writes the same decision again). Every canary
 * decision store applies this rule: Redis inside its write script, memory here.
 */
export function supersedes(next: CanaryDecision, current: CanaryDecision | null | undefined): boolean {
  if (current === null || current === undefined) return true;
  if (next.decidedAt !== current.decidedAt) return next.decidedAt > current.decidedAt;
  return canaryStatusRank(next.status) >= canaryStatusRank(current.status);
}

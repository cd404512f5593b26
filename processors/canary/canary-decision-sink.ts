import type { CanaryDecision } from '../../schemas/index.js';

/**
 * Where canary decisions are written for the query API and the rollout
 * controllers to read (Redis in production). Resolves once they are durable.
 * Decisions of one rollout arrive in the order they were made; the latest
 * one written is the rollout's current verdict.
 */
export interface CanaryDecisionSink {
  write(decisions: readonly CanaryDecision[]): Promise<void>;
}

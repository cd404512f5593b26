import type { CanaryDecision } from '../../schemas/index.js';

/** The event time the canary fixtures start at. */
export const CANARY_T0 = 1_700_000_000_000;

/**
 * A canary decision of tenant acme's `checkout` rollout (v2 against v1,
 * running, hold), with the fields given replaced: for the decision stores',
 * the API's and the deploy manifests' tests.
 */
export function canaryDecision(rolloutId: string, overrides: Partial<CanaryDecision> = {}): CanaryDecision {
  return {
    rolloutId,
    tenantId: 'acme',
    service: 'checkout',
    canaryVersion: 'v2',
    baselineVersion: 'v1',
    stableVersion: 'v1',
    status: 'running',
    verdict: 'hold',
    score: 61,
    summary: 'latency: too few samples yet',
    decidedAt: CANARY_T0,
    windowsJudged: 2,
    evidenceJson: JSON.stringify({
      reasons: ['latency: too few samples yet'],
      tests: [{ name: 'mann-whitney', pValue: 0.41 }],
    }),
    ...overrides,
  };
}

/**
 * The incident rules: which behaviour of which entity kind is which incident,
 * the minimum evidence (floors on the window's features) and the features
 * whose anomaly score is the rule's signal. A window matches a rule when
 * every floor holds; the signal then decides (with hysteresis) whether an
 * incident opens or stays open (incident-tracker.ts).
 */
import type {
  AnomalyScore,
  EntityKind,
  FeatureScore,
  IncidentKind,
  RemediationAction,
} from '../../schemas/index.js';
import type { BehaviourFeature } from '../anomaly/behaviour-window.js';

export interface IncidentRule {
  readonly kind: IncidentKind;
  readonly entityKind: EntityKind;
  /** Minimum values of the window's features: all must hold. */
  readonly floors: Partial<Record<BehaviourFeature, number>>;
  /**
   * Floored features that are shares of the window's requests: such a floor
   * holds when the share's lower confidence bound reaches it, not the share
   * itself, so that a handful of requests cannot make a rate (3 errors in 20
   * requests is 15 %, and happens every few hundred windows at a 1 % base).
   */
  readonly shares?: readonly BehaviourFeature[];
  /** The features whose scores make the signal (the highest one). */
  readonly signal: readonly BehaviourFeature[];
  /** What remediates it, when it is confident enough; none for operational incidents. */
  readonly remediation: RemediationAction | null;
  readonly baseSeverity: 'low' | 'medium' | 'high';
}

/** The defaults for 30-second windows. */
export const DEFAULT_INCIDENT_RULES: readonly IncidentRule[] = [
  {
    kind: 'credential_stuffing',
    entityKind: 'ip',
    floors: { auth_failures: 10, distinct_failed_users: 5 },
    signal: ['auth_failures', 'distinct_failed_users'],
    remediation: 'block_ip',
    baseSeverity: 'high',
  },
  {
    kind: 'scraping',
    entityKind: 'ip',
    floors: { distinct_endpoints: 30, requests: 40 },
    signal: ['distinct_endpoints'],
    remediation: 'block_ip',
    baseSeverity: 'medium',
  },
  {
    kind: 'token_abuse',
    entityKind: 'user',
    floors: { distinct_ips: 4 },
    signal: ['distinct_ips'],
    remediation: 'revoke_user_sessions',
    baseSeverity: 'high',
  },
  {
    kind: 'error_storm',
    entityKind: 'tenant',
    // 10 % with 95 % confidence: 5 errors in 20 requests, 7 in 30, 11 in 60
    floors: { error_rate: 0.1, requests: 20 },
    shares: ['error_rate'],
    signal: ['error_rate'],
    remediation: null,
    baseSeverity: 'medium',
  },
  {
    kind: 'latency_spike',
    entityKind: 'tenant',
    floors: { latency_p95_ms: 400, requests: 20 },
    signal: ['latency_p95_ms'],
    remediation: null,
    baseSeverity: 'low',
  },
];

export interface RuleMatch {
  /** Every floor holds. */
  readonly matched: boolean;
  /** In [0, 1]: the highest score of the rule's signal features. */
  readonly signal: number;
}

/** A scored window's features by name, built once per window for every rule. */
export type WindowFeatures = ReadonlyMap<string, FeatureScore>;

export const featuresOf = (window: AnomalyScore): WindowFeatures =>
  new Map(window.features.map((f) => [f.name, f]));

/** How a scored window stands against `rule`, its floors scaled by `floorFactor` (hysteresis: lower to stay open). */
export function matchRule(rule: IncidentRule, features: WindowFeatures, floorFactor = 1): RuleMatch {
  const requests = features.get('requests')?.value ?? 0;
  const matched = Object.entries(rule.floors).every(([feature, floor]) => {
    const value = features.get(feature)?.value ?? 0;
    const tested = rule.shares?.includes(feature as BehaviourFeature)
      ? shareLowerBound(value, requests)
      : value;
    return tested >= (floor as number) * floorFactor;
  });
  const signal = Math.max(0, ...rule.signal.map((feature) => features.get(feature)?.score ?? 0));
  return { matched, signal };
}

/** z of the two-sided 95 % interval whose lower end a share's floor is tested on. */
const SHARE_CONFIDENCE_Z = 1.96;

/**
 * The lower end of the Wilson score interval of a share observed over `n`
 * trials: what the share is at least, with 97.5 % confidence. Unlike the
 * normal approximation it stays in [0, 1] and is sound for small `n` and
 * shares near 0.
 */
export function shareLowerBound(share: number, n: number): number {
  if (n <= 0) return 0;
  const z2 = SHARE_CONFIDENCE_Z * SHARE_CONFIDENCE_Z;
  const centre = share + z2 / (2 * n);
  const spread = SHARE_CONFIDENCE_Z * Math.sqrt((share * (1 - share)) / n + z2 / (4 * n * n));
  return Math.max(0, (centre - spread) / (1 + z2 / n));
}

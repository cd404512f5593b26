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
    floors: { error_rate: 0.15, requests: 20 },
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
  const matched = Object.entries(rule.floors).every(
    ([feature, floor]) => (features.get(feature)?.value ?? 0) >= (floor as number) * floorFactor,
  );
  const signal = Math.max(0, ...rule.signal.map((feature) => features.get(feature)?.score ?? 0));
  return { matched, signal };
}

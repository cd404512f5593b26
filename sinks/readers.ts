import type {
  CanaryDecision,
  FeatureView,
  IncidentKind,
  IncidentStatus,
  SecurityIncident,
  SessionSummary,
} from '../schemas/index.js';

/** One feature view of one entity as the store holds it. */
export interface StoredFeatures {
  readonly view: FeatureView;
  readonly entity: string;
  readonly values: Readonly<Record<string, number>>;
  /** Event time (epoch ms) the values are as of. */
  readonly eventTime: number;
  /** How old the values are at read time: now minus eventTime, never negative. */
  readonly ageMs: number;
}

export interface FeatureLookup {
  readonly view: FeatureView;
  readonly entity: string;
}

/** The read side of a feature store, what the query API needs. */
export interface FeatureReader {
  /** One (view, entity), or null when the store holds nothing for it (never written, or expired). */
  get(view: FeatureView, entity: string): Promise<StoredFeatures | null>;
  /** Many (view, entity) pairs in one round trip; the answer has one slot per lookup, in order. */
  getMany(lookups: readonly FeatureLookup[]): Promise<Array<StoredFeatures | null>>;
}

/** The read side of a session history, what the query API needs. */
export interface SessionHistoryReader {
  /** The last closed sessions of a user, newest first; empty when none are kept. */
  recent(tenantId: string, userId: string): Promise<SessionSummary[]>;
}

/** The read side of the canary decisions, what the query API needs. */
export interface CanaryDecisionReader {
  /** A rollout's latest decision, or null when none is kept. */
  latest(rolloutId: string): Promise<CanaryDecision | null>;
  /** The latest decision of each of a tenant's rollouts (every tenant's for `*`), newest first. */
  list(tenantScope: string, limit: number): Promise<CanaryDecision[]>;
}

/** An incident's latest state as a store keeps it, with its triage note. */
export interface StoredSecurityIncident extends SecurityIncident {
  /** Written apart from the incident record (`setTriageNote`), later or earlier; null while there is none. */
  readonly triageNote: string | null;
}

/** Which incidents a list asks for: all its filters hold. */
export interface IncidentQuery {
  readonly status?: IncidentStatus;
  readonly kind?: IncidentKind;
  /** Epoch ms: only incidents detected at or after it (`detectedAt >= since`). */
  readonly since?: number;
  /** At most this many (a positive whole number). */
  readonly limit: number;
}

/** The read side of the security incidents, what the query API needs. */
export interface IncidentReader {
  /** An incident's latest state, or null when none is kept (never written, trimmed or expired). */
  get(incidentId: string): Promise<StoredSecurityIncident | null>;
  /**
   * A tenant's incidents (every incident for `*`, including the IP
   * incidents, which have no tenant and are listed for `*` only) that match
   * the query, newest detected first.
   */
  list(tenantScope: string, query: IncidentQuery): Promise<StoredSecurityIncident[]>;
}

/**
 * Whether an incident belongs in a list of `tenantScope` under `query`,
 * the rule every IncidentReader applies: a tenant's scope holds its own
 * incidents only (never an IP incident, which has no tenant), `*` holds all.
 */
export function incidentMatches(
  incident: SecurityIncident,
  tenantScope: string,
  query: Omit<IncidentQuery, 'limit'>,
): boolean {
  if (tenantScope !== '*' && incident.tenantId !== tenantScope) return false;
  if (query.status !== undefined && incident.status !== query.status) return false;
  if (query.kind !== undefined && incident.kind !== query.kind) return false;
  return query.since === undefined || incident.detectedAt >= query.since;
}

/**
 * A backing store the query API depends on, for readiness: `probe` resolves
 * when the store can serve now and rejects (promptly) with the reason when it
 * cannot, e.g. `redisProbe(redis)`.
 */
export interface DependencyProbe {
  /** What readiness reports as down, e.g. `redis`. */
  readonly dependency: string;
  probe(): Promise<void>;
}

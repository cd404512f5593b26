import type { CanaryDecision, FeatureView, SessionSummary } from '../schemas/index.js';

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

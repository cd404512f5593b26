import type { CanaryDecisionSink } from '../../processors/canary/canary-decision-sink.js';
import type { FeatureSink } from '../../processors/features/feature-sink.js';
import type { SessionHistorySink } from '../../processors/sessions/session-history-sink.js';
import type { CanaryDecision, FeatureUpdate, SessionSummary } from '../../schemas/index.js';
import { supersedes } from '../canary-decision-order.js';
import type { CanaryDecisionReader } from '../readers.js';

/**
 * The feature sink in memory, for tests and the no-Redis demo: every write in
 * order, and the latest update per (view, entity) with the same event-time
 * guard a real feature store applies (an older update never replaces a newer one).
 */
export class MemoryFeatureSink implements FeatureSink {
  readonly writes: FeatureUpdate[][] = [];
  private readonly latestByEntity = new Map<string, FeatureUpdate>();
  /** Writes that fail before the sink works again (to test outages). */
  failNextWrites = 0;

  async write(updates: readonly FeatureUpdate[]): Promise<void> {
    if (this.failNextWrites > 0) {
      this.failNextWrites -= 1;
      throw new Error('memory feature sink: simulated outage');
    }
    this.writes.push([...updates]);
    for (const update of updates) {
      const key = `${update.view}|${update.entity}`;
      const current = this.latestByEntity.get(key);
      if (current === undefined || update.eventTime >= current.eventTime)
        this.latestByEntity.set(key, update);
    }
  }

  /** The current values of a view for an entity, or undefined. */
  latest(view: FeatureUpdate['view'], entity: string): FeatureUpdate | undefined {
    return this.latestByEntity.get(`${view}|${entity}`);
  }
}

/** The session history in memory: closed sessions per `tenantId/userId`, appended in order. */
export class MemorySessionHistorySink implements SessionHistorySink {
  readonly appends: SessionSummary[][] = [];
  failNextWrites = 0;

  async append(sessions: readonly SessionSummary[]): Promise<void> {
    if (this.failNextWrites > 0) {
      this.failNextWrites -= 1;
      throw new Error('memory session history: simulated outage');
    }
    this.appends.push([...sessions]);
  }

  /** Every closed session of a user, oldest first. */
  sessionsOf(tenantId: string, userId: string): SessionSummary[] {
    return this.appends.flat().filter((s) => s.tenantId === tenantId && s.userId === userId);
  }
}

/**
 * The canary decisions in memory, for tests and the no-Redis demo: the
 * latest decision per rollout with the rule RedisCanaryDecisions applies (an
 * older one, or a running one of the same millisecond as a final one, never
 * replaces it), and every write in order.
 */
export class MemoryCanaryDecisions implements CanaryDecisionSink, CanaryDecisionReader {
  readonly writes: CanaryDecision[][] = [];
  private readonly latestByRollout = new Map<string, CanaryDecision>();

  async write(decisions: readonly CanaryDecision[]): Promise<void> {
    this.writes.push([...decisions]);
    for (const decision of decisions) {
      const current = this.latestByRollout.get(decision.rolloutId);
      if (supersedes(decision, current)) this.latestByRollout.set(decision.rolloutId, decision);
    }
  }

  async latest(rolloutId: string): Promise<CanaryDecision | null> {
    return this.latestByRollout.get(rolloutId) ?? null;
  }

  async list(tenantScope: string, limit: number): Promise<CanaryDecision[]> {
    if (limit <= 0) return [];
    return (
      [...this.latestByRollout.values()]
        .filter((d) => tenantScope === '*' || d.tenantId === tenantScope)
        // newest first; ties as Redis orders them (ZREVRANGE: the greater rollout id first)
        .sort((a, b) => b.decidedAt - a.decidedAt || (a.rolloutId < b.rolloutId ? 1 : -1))
        .slice(0, limit)
    );
  }

  /** Every decision of a rollout, in the order written. */
  decisionsOf(rolloutId: string): CanaryDecision[] {
    return this.writes.flat().filter((d) => d.rolloutId === rolloutId);
  }
}

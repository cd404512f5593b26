import type { FeatureSink } from '../../processors/features/feature-sink.js';
import type { SessionHistorySink } from '../../processors/sessions/session-history-sink.js';
import type { FeatureUpdate, SessionSummary } from '../../schemas/index.js';

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

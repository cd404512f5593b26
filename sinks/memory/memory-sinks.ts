import type { CanaryDecisionSink } from '../../processors/canary/canary-decision-sink.js';
import type { FeatureSink } from '../../processors/features/feature-sink.js';
import type { IncidentSink } from '../../processors/incidents/incident-sink.js';
import type { SessionHistorySink } from '../../processors/sessions/session-history-sink.js';
import type { CanaryDecision, FeatureUpdate, SecurityIncident, SessionSummary } from '../../schemas/index.js';
import { ConfigError } from '../../topology/errors.js';
import {
  isFinalIncidentStatus,
  securityIncidentOrder,
  supersedes,
  supersedesIn,
} from '../latest-state-order.js';
import {
  type CanaryDecisionReader,
  type IncidentQuery,
  type IncidentReader,
  incidentMatches,
  type StoredSecurityIncident,
} from '../readers.js';
import {
  checkTriageNote,
  DEFAULT_FINAL_INCIDENT_TTL_MS,
  DEFAULT_MAX_INCIDENTS_PER_INDEX,
  encodeIncident,
} from '../redis/security-incidents.js';

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

export interface MemorySecurityIncidentsOptions {
  /** As RedisSecurityIncidents' `maxPerIndex`. Default 10,000. */
  readonly maxPerIndex?: number;
  /** As RedisSecurityIncidents' `finalTtlMs`. Default 30 days. */
  readonly finalTtlMs?: number;
  /** Wall-clock ms, for the TTL (tests move it). Default Date.now. */
  readonly now?: () => number;
}

interface KeptIncident {
  incident: SecurityIncident | undefined;
  triageNote: string | null;
  /** Wall-clock ms it expires at; undefined while it is open or escalated. */
  expiresAt: number | undefined;
}

/**
 * The security incidents in memory, for tests and the no-Redis demo, with
 * RedisSecurityIncidents' rules: the newest state per incident
 * (`securityIncidentOrder`), the same data checks, indexes per tenant and
 * for all, trimmed to `maxPerIndex` (oldest detected first; trimmed from the
 * all index = deleted), final incidents expiring after `finalTtlMs`, triage
 * notes kept beside their incident (or waiting for it). Every write in order.
 */
export class MemorySecurityIncidents implements IncidentSink, IncidentReader {
  readonly writes: SecurityIncident[] = [];
  private readonly kept = new Map<string, KeptIncident>();
  /** index name ('*' or a tenant) → incident id → detectedAt */
  private readonly indexes = new Map<string, Map<string, number>>();
  private readonly maxPerIndex: number;
  private readonly finalTtlMs: number;
  private readonly now: () => number;

  constructor(options: MemorySecurityIncidentsOptions = {}) {
    this.maxPerIndex = options.maxPerIndex ?? DEFAULT_MAX_INCIDENTS_PER_INDEX;
    this.finalTtlMs = options.finalTtlMs ?? DEFAULT_FINAL_INCIDENT_TTL_MS;
    if (!Number.isInteger(this.maxPerIndex) || this.maxPerIndex <= 0)
      throw new ConfigError(
        `security incidents: expected a positive whole number per index, got ${this.maxPerIndex}`,
      );
    if (!Number.isInteger(this.finalTtlMs) || this.finalTtlMs <= 0)
      throw new ConfigError(
        `security incidents TTL: expected a positive whole number of ms, got ${this.finalTtlMs}`,
      );
    this.now = options.now ?? Date.now;
  }

  async write(incident: SecurityIncident): Promise<void> {
    encodeIncident(incident);
    this.writes.push(incident);
    const current = this.live(incident.incidentId);
    if (current?.incident !== undefined && !supersedesIn(securityIncidentOrder, incident, current.incident))
      return;
    this.kept.set(incident.incidentId, {
      incident,
      triageNote: current?.triageNote ?? null,
      expiresAt: isFinalIncidentStatus(incident.status) ? this.now() + this.finalTtlMs : undefined,
    });
    this.index('*', incident);
    if (incident.tenantId !== null) this.index(incident.tenantId, incident);
  }

  async setTriageNote(incidentId: string, note: string): Promise<void> {
    checkTriageNote(incidentId, note);
    const current = this.live(incidentId);
    if (current === undefined)
      this.kept.set(incidentId, {
        incident: undefined,
        triageNote: note,
        expiresAt: this.now() + this.finalTtlMs,
      });
    else current.triageNote = note;
  }

  async get(incidentId: string): Promise<StoredSecurityIncident | null> {
    const kept = this.live(incidentId);
    return kept?.incident === undefined ? null : { ...kept.incident, triageNote: kept.triageNote };
  }

  async list(tenantScope: string, query: IncidentQuery): Promise<StoredSecurityIncident[]> {
    if (!(query.limit > 0)) return [];
    const index = this.indexes.get(tenantScope) ?? new Map<string, number>();
    const found: StoredSecurityIncident[] = [];
    for (const id of newestFirst(index)) {
      const incident = await this.get(id);
      if (incident === null || !incidentMatches(incident, tenantScope, query)) continue;
      found.push(incident);
      if (found.length === query.limit) break;
    }
    return found;
  }

  private live(incidentId: string): KeptIncident | undefined {
    const kept = this.kept.get(incidentId);
    if (kept?.expiresAt !== undefined && kept.expiresAt <= this.now()) {
      this.kept.delete(incidentId);
      return undefined;
    }
    return kept;
  }

  private index(name: string, incident: SecurityIncident): void {
    const index = this.indexes.get(name) ?? new Map<string, number>();
    this.indexes.set(name, index);
    index.set(incident.incidentId, incident.detectedAt);
    const excess = index.size - this.maxPerIndex;
    if (excess <= 0) return;
    for (const id of newestFirst(index).slice(-excess)) {
      index.delete(id);
      if (name !== '*') continue;
      const tenantId = this.kept.get(id)?.incident?.tenantId;
      if (tenantId !== null && tenantId !== undefined) this.indexes.get(tenantId)?.delete(id);
      this.kept.delete(id);
    }
  }
}

/** Ids newest detected first; ties as Redis orders them (ZREVRANGE: the greater id first). */
function newestFirst(index: ReadonlyMap<string, number>): string[] {
  return [...index].sort(([a, at], [b, bt]) => bt - at || (a < b ? 1 : a > b ? -1 : 0)).map(([id]) => id);
}

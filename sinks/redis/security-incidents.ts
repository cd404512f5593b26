import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { IncidentSink } from '../../processors/incidents/incident-sink.js';
import {
  ENTITY_KINDS,
  entityOfKey,
  INCIDENT_KINDS,
  INCIDENT_SEVERITIES,
  INCIDENT_STATUSES,
  parseIncidentId,
  type SecurityIncident,
} from '../../schemas/index.js';
import { ConfigError, SinkDataError } from '../../topology/errors.js';
import { incidentStatusRank, isFinalIncidentStatus } from '../latest-state-order.js';
import {
  type IncidentQuery,
  type IncidentReader,
  incidentMatches,
  type StoredSecurityIncident,
} from '../readers.js';
import { RedisSinkMetrics } from './metrics.js';
import { failedReplies, redisFailure } from './redis-failures.js';

/**
 * Keeps an incident's state unless the stored one is newer (`updatedAt`,
 * then lifecycle rank: `securityIncidentOrder`, sinks/latest-state-order.ts),
 * expires it when final and persists it otherwise, indexes it by detectedAt
 * (all-incidents index, and its tenant's when it has one), then trims each
 * index to its bound: an incident trimmed from the all-incidents index is
 * deleted with its tenant-index entry, so every kept incident is listed.
 * KEYS[1] incident hash, KEYS[2] all-incidents index, KEYS[3] tenant index (absent for an IP incident);
 * ARGV: updatedAt, rank, incident JSON, incidentId, tenant ('' for none),
 * detectedAt, final ('1'/'0'), final TTL ms, bound per index, incident key
 * prefix, tenant index key prefix. Returns 1 when written, 0 when refused.
 */
const GUARDED_INCIDENT_WRITE_LUA = `
local stored = redis.call('HMGET', KEYS[1], 'updated_at', 'rank')
local at = tonumber(ARGV[1])
local rank = tonumber(ARGV[2])
if stored[1] then
  local storedAt = tonumber(stored[1])
  if storedAt > at or (storedAt == at and tonumber(stored[2]) > rank) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[1], 'rank', ARGV[2], 'tenant', ARGV[5], 'incident', ARGV[3])
if ARGV[7] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
else
  redis.call('PERSIST', KEYS[1])
end
local bound = tonumber(ARGV[9])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[6], ARGV[4])
end
local excess = redis.call('ZCARD', KEYS[2]) - bound
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  for _, id in ipairs(oldest) do
    local key = ARGV[10] .. id
    local tenant = redis.call('HGET', key, 'tenant')
    if tenant and tenant ~= '' then
      redis.call('ZREM', ARGV[11] .. tenant, id)
    end
    redis.call('DEL', key)
  end
end
if KEYS[3] then
  excess = redis.call('ZCARD', KEYS[3]) - bound
  if excess > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, excess - 1)
  end
end
return 1
`;

/**
 * Sets an incident's triage note. A note may come before its incident: it
 * then expires after the final TTL unless the incident arrives (whose write
 * persists or expires the hash by its own status).
 * KEYS[1] incident hash; ARGV: note, TTL ms.
 */
const TRIAGE_NOTE_WRITE_LUA = `
redis.call('HSET', KEYS[1], 'triage_note', ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'incident') == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`;

type GuardedIncidentClient = Redis & {
  /** numkeys first: 2 for an IP incident, 3 with its tenant index. */
  veroaiGuardedIncidentWrite(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
  veroaiTriageNoteWrite(incidentKey: string, note: string, ttlMs: number): Promise<number>;
};

export interface RedisSecurityIncidentsOptions {
  readonly redis: Redis;
  /** Metrics go here (`veroai_redis_*`, operations `incident_write` and `incident_read`). */
  readonly registry: Registry;
  /** First segment of every key, e.g. `veroai` gives `veroai:incidents:i:<incidentId>`. Default `veroai`. */
  readonly keyPrefix?: string;
  /**
   * Most incidents each index holds (the all-incidents index and each
   * tenant's), the oldest detected trimmed first. The all-incidents index
   * bounds the store: an incident trimmed from it is deleted. Default 10,000.
   */
  readonly maxPerIndex?: number;
  /** How long a closed or auto-resolved incident is kept after its last write. Default 30 days. */
  readonly finalTtlMs?: number;
}

export const DEFAULT_MAX_INCIDENTS_PER_INDEX = 10_000;
export const DEFAULT_FINAL_INCIDENT_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Longest triage note kept (the triage writes at most 1,000 characters). */
export const MAX_STORED_TRIAGE_NOTE_CHARS = 4_000;

/** Index members read per round trip while a list filters. */
const LIST_PAGE = 200;

/**
 * The security incidents on Redis, for the query API: the latest state of
 * each incident in a hash at `<prefix>:incidents:i:<incidentId>` (fields
 * `updated_at`, `rank`, `tenant` ('' for an IP incident), `incident` = the
 * SecurityIncident as JSON, and `triage_note` when one was set), and sorted
 * sets of incident ids scored by detectedAt: `<prefix>:incidents:t:<tenantId>`
 * per tenant and `<prefix>:incidents:all` for the admin. An IP incident
 * (tenantId null) spans tenants: it is only in the all-incidents index.
 *
 * Bounds: each index keeps at most `maxPerIndex` (default 10,000) incidents,
 * the oldest detected trimmed first; an incident trimmed from the
 * all-incidents index is deleted, so the store holds at most that many
 * (plus nothing else but triage notes waiting for their incident). A closed
 * or auto-resolved incident expires `finalTtlMs` (default 30 days) after its
 * last write; an open or escalated one is kept until trimmed or resolved.
 * An index entry whose incident has expired is skipped by reads and goes
 * when trimmed.
 *
 * Each write is one Lua script (EVALSHA after the first) that compares the
 * record with the stored one inside Redis: a duplicate or an older record
 * (at-least-once delivery, a replay after a restart) never replaces a newer
 * one, and at the same `updatedAt` a later lifecycle status wins (open <
 * escalated < auto_resolved, closed). The script builds the keys of trimmed
 * incidents from the prefix: the store needs one Redis, not a Cluster.
 *
 * @example
 * const incidents = new RedisSecurityIncidents({ redis, registry });
 * await incidents.write(incident);                                  // the incident processor's sink
 * await incidents.setTriageNote(incident.incidentId, 'likely a bot'); // the triage
 * await incidents.list('acme', { status: 'open', limit: 20 });      // the API's reader, newest first
 */
export class RedisSecurityIncidents implements IncidentSink, IncidentReader {
  private readonly redis: GuardedIncidentClient;
  private readonly metrics: RedisSinkMetrics;
  private readonly keyPrefix: string;
  private readonly maxPerIndex: number;
  private readonly finalTtlMs: number;

  constructor(options: RedisSecurityIncidentsOptions) {
    const maxPerIndex = options.maxPerIndex ?? DEFAULT_MAX_INCIDENTS_PER_INDEX;
    const finalTtlMs = options.finalTtlMs ?? DEFAULT_FINAL_INCIDENT_TTL_MS;
    if (!Number.isInteger(maxPerIndex) || maxPerIndex <= 0)
      throw new ConfigError(
        `security incidents: expected a positive whole number per index, got ${maxPerIndex}`,
      );
    if (!Number.isInteger(finalTtlMs) || finalTtlMs <= 0)
      throw new ConfigError(
        `security incidents TTL: expected a positive whole number of ms, got ${finalTtlMs}`,
      );
    this.keyPrefix = options.keyPrefix ?? 'veroai';
    this.maxPerIndex = maxPerIndex;
    this.finalTtlMs = finalTtlMs;
    this.metrics = new RedisSinkMetrics(options.registry);
    this.redis = options.redis as GuardedIncidentClient;
    if (typeof this.redis.veroaiGuardedIncidentWrite !== 'function')
      this.redis.defineCommand('veroaiGuardedIncidentWrite', { lua: GUARDED_INCIDENT_WRITE_LUA });
    if (typeof this.redis.veroaiTriageNoteWrite !== 'function')
      this.redis.defineCommand('veroaiTriageNoteWrite', { numberOfKeys: 1, lua: TRIAGE_NOTE_WRITE_LUA });
  }

  /** The Redis key of an incident's latest state. */
  keyOf(incidentId: string): string {
    return `${this.keyPrefix}:incidents:i:${incidentId}`;
  }

  /** The index of a tenant's incidents, or of every incident for `*`. */
  indexOf(tenantScope: string): string {
    return tenantScope === '*'
      ? `${this.keyPrefix}:incidents:all`
      : `${this.keyPrefix}:incidents:t:${tenantScope}`;
  }

  /**
   * Keeps the incident unless a newer state of it is stored; resolves once
   * Redis acknowledged it (kept or refused as older). An incident that
   * cannot be kept faithfully (an id that does not name its entity, kind and
   * detectedAt; a tenant that is not its entity's; an unknown enum value; a
   * time that is not a number) is `VEROAI_ERR_SINK_DATA` before anything is
   * sent; Redis down or not answering in time is `VEROAI_ERR_SINK_UNAVAILABLE`.
   * Idempotent.
   */
  async write(incident: SecurityIncident): Promise<void> {
    const encoded = encodeIncident(incident);
    const final = isFinalIncidentStatus(incident.status);
    const keys = [this.keyOf(incident.incidentId), this.indexOf('*')];
    if (incident.tenantId !== null) keys.push(this.indexOf(incident.tenantId));
    await this.metrics.observe('incident_write', () =>
      this.named(
        keys[0]!,
        this.redis.veroaiGuardedIncidentWrite(
          keys.length,
          ...keys,
          incident.updatedAt,
          incidentStatusRank(incident.status),
          encoded,
          incident.incidentId,
          incident.tenantId ?? '',
          incident.detectedAt,
          final ? '1' : '0',
          this.finalTtlMs,
          this.maxPerIndex,
          this.keyOf(''),
          this.indexOf(''),
        ),
      ),
    );
  }

  /**
   * Sets (replaces) an incident's triage note, served with the incident. A
   * note may arrive before its incident: it waits for it up to the final
   * TTL. An id that is not an incident id, or a note longer than
   * MAX_STORED_TRIAGE_NOTE_CHARS, is `VEROAI_ERR_SINK_DATA`.
   */
  async setTriageNote(incidentId: string, note: string): Promise<void> {
    checkTriageNote(incidentId, note);
    await this.metrics.observe('incident_write', () =>
      this.named(
        this.keyOf(incidentId),
        this.redis.veroaiTriageNoteWrite(this.keyOf(incidentId), note, this.finalTtlMs),
      ),
    );
  }

  /** A refused value names its key, so that an operator can look at what is stored there. */
  private async named<T>(key: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      throw redisFailure(`security incidents write (key '${key}')`, error);
    }
  }

  /** An incident's latest state with its triage note, or null when none is kept. */
  async get(incidentId: string): Promise<StoredSecurityIncident | null> {
    const [json, note] = await this.metrics.observe('incident_read', () =>
      this.redis.hmget(this.keyOf(incidentId), 'incident', 'triage_note'),
    );
    return storedOf(json ?? null, note ?? null);
  }

  /**
   * A tenant's incidents (every incident for `*`) matching the query, newest
   * detected first: the index is read by detectedAt from the newest down to
   * `since`, a page at a time, until `limit` match or the index ends; the
   * status and kind filters apply to each incident's latest state. An
   * incident whose tenant is not the one asked is never listed.
   */
  async list(tenantScope: string, query: IncidentQuery): Promise<StoredSecurityIncident[]> {
    const { limit } = query;
    if (!(limit > 0)) return [];
    const index = this.indexOf(tenantScope);
    const min = query.since === undefined ? '-inf' : String(query.since);
    const filtered = query.status !== undefined || query.kind !== undefined;
    const found: StoredSecurityIncident[] = [];
    const seen = new Set<string>();
    for (let offset = 0; found.length < limit; ) {
      // without filters only expired entries are skipped: a page a little larger than needed
      const page = filtered ? Math.max(LIST_PAGE, limit) : limit - found.length + 8;
      const ids = await this.metrics.observe('incident_read', () =>
        this.redis.zrevrangebyscore(index, '+inf', min, 'LIMIT', offset, page),
      );
      offset += ids.length;
      const fresh = ids.filter((id) => !seen.has(id));
      for (const id of fresh) seen.add(id);
      if (fresh.length > 0) {
        const pipeline = this.redis.pipeline();
        for (const id of fresh) pipeline.hmget(this.keyOf(id), 'incident', 'triage_note');
        const replies = await this.metrics.observe('incident_read', async () => {
          const results = await pipeline.exec();
          const failure = failedReplies(
            results,
            'security incidents read',
            (i) => `key '${this.keyOf(fresh[i]!)}'`,
          );
          if (failure !== undefined) throw failure;
          return results ?? [];
        });
        for (const [, reply] of replies) {
          const [json, note] = reply as [string | null, string | null];
          const incident = storedOf(json, note);
          if (incident === null || !incidentMatches(incident, tenantScope, query)) continue;
          found.push(incident);
          if (found.length === limit) break;
        }
      }
      if (ids.length < page) break;
    }
    return found;
  }
}

function storedOf(json: string | null, note: string | null): StoredSecurityIncident | null {
  if (json === null) return null;
  return { ...(JSON.parse(json) as SecurityIncident), triageNote: note };
}

/** A data error when a triage note cannot be kept: not an incident's id, or too long. */
export function checkTriageNote(incidentId: string, note: string): void {
  if (parseIncidentId(incidentId) === undefined)
    throw new SinkDataError(`triage note: '${incidentId}' is not an incident id`, {
      hint: 'an incident id is <base64url(entity key)>.<kind>.<detectedAt> (incidentIdOf, schemas/security.ts)',
    });
  if (note.length > MAX_STORED_TRIAGE_NOTE_CHARS)
    throw new SinkDataError(
      `triage note of incident '${incidentId}': ${note.length} characters, at most ${MAX_STORED_TRIAGE_NOTE_CHARS} are kept`,
      { hint: 'shorten the note' },
    );
}

/**
 * The incident as stored, or a data error when it cannot be kept
 * faithfully. Its id must name its entity, kind and detectedAt, and its
 * tenant must be its entity's: the tenant index a tenant's key reads from
 * is filled from that tenant, so this check is what keeps tenants apart.
 */
export function encodeIncident(incident: SecurityIncident): string {
  const invalid = (message: string) =>
    new SinkDataError(`security incident '${incident.incidentId}': ${message}`, {
      hint: 'the incident processor must make the id with incidentIdOf(entityKeyOf(entity), kind, detectedAt) and fill every field',
    });
  const named = parseIncidentId(incident.incidentId);
  if (named === undefined) throw invalid('the id is not <base64url(entity key)>.<kind>.<detectedAt>');
  const entity = entityOfKey(named.entityKey)!;
  if (named.kind !== incident.kind)
    throw invalid(`the id names kind '${named.kind}', the record '${incident.kind}'`);
  if (named.detectedAt !== incident.detectedAt)
    throw invalid(`the id names detectedAt ${named.detectedAt}, the record ${incident.detectedAt}`);
  if (
    entity.kind !== incident.entityKind ||
    entity.id !== incident.entityId ||
    entity.tenantId !== incident.tenantId
  )
    throw invalid(
      `the id names entity '${named.entityKey}', the record ${incident.entityKind} '${incident.entityId}' of tenant ${incident.tenantId === null ? 'null' : `'${incident.tenantId}'`}`,
    );
  if (incident.tenantId === '*') throw invalid("tenant '*' is reserved for the admin scope");
  if (!ENTITY_KINDS.includes(incident.entityKind))
    throw invalid(`unknown entity kind '${incident.entityKind}'`);
  if (!INCIDENT_KINDS.includes(incident.kind)) throw invalid(`unknown kind '${incident.kind}'`);
  if (!INCIDENT_SEVERITIES.includes(incident.severity))
    throw invalid(`unknown severity '${incident.severity}'`);
  if (!INCIDENT_STATUSES.includes(incident.status)) throw invalid(`unknown status '${incident.status}'`);
  for (const field of ['firstSeenAt', 'detectedAt', 'updatedAt'] as const)
    if (!Number.isFinite(incident[field])) throw invalid(`${field} ${incident[field]} is not a number`);
  return JSON.stringify(incident);
}

import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { CanaryDecisionSink } from '../../processors/canary/canary-decision-sink.js';
import { CANARY_VERDICTS, type CanaryDecision, ROLLOUT_STATUSES } from '../../schemas/index.js';
import { ConfigError, SinkDataError } from '../../topology/errors.js';
import { canaryStatusRank } from '../latest-state-order.js';
import type { CanaryDecisionReader } from '../readers.js';
import { RedisSinkMetrics } from './metrics.js';
import { failedReplies } from './redis-failures.js';

/**
 * Keeps a decision unless its rollout holds a later one (event time, then
 * status rank: `canaryDecisionOrder`, sinks/latest-state-order.ts), indexes the rollout under its
 * tenant and in the all-tenants index by event time, drops index entries
 * older than the retention (by the decision's event time), renews the TTLs.
 * KEYS[1] decision hash, KEYS[2] tenant index, KEYS[3] all-tenants index;
 * ARGV: decidedAt, status rank, decision JSON, rollout id, tenant, TTL ms.
 * Returns 1 when written, 0 when refused.
 */
const GUARDED_DECISION_WRITE_LUA = `
local stored = redis.call('HMGET', KEYS[1], 'decided_at', 'rank')
local at = tonumber(ARGV[1])
local rank = tonumber(ARGV[2])
if stored[1] then
  local storedAt = tonumber(stored[1])
  if storedAt > at or (storedAt == at and tonumber(stored[2]) > rank) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'decided_at', ARGV[1], 'rank', ARGV[2], 'tenant', ARGV[5], 'decision', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local oldest = string.format('(%d', at - tonumber(ARGV[6]))
for i = 2, 3 do
  redis.call('ZADD', KEYS[i], at, ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', oldest)
  redis.call('PEXPIRE', KEYS[i], ARGV[6])
end
return 1
`;

type GuardedDecisionClient = Redis & {
  veroaiGuardedCanaryWrite(
    decisionKey: string,
    tenantIndex: string,
    allIndex: string,
    ...args: Array<string | number>
  ): Promise<number>;
};

export interface RedisCanaryDecisionsOptions {
  readonly redis: Redis;
  /** Metrics go here (`veroai_redis_*`, operations `canary_write` and `canary_read`). */
  readonly registry: Registry;
  /** First segment of every key, e.g. `veroai` gives `veroai:canary:r:<rolloutId>`. Default `veroai`. */
  readonly keyPrefix?: string;
  /** How long a rollout's decision is kept after its last one (and how far back the lists reach). Default 30 days. */
  readonly ttlMs?: number;
}

const DEFAULT_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The canary decisions on Redis, for the query API and the rollout
 * controllers: the latest decision of each rollout in a hash at
 * `<prefix>:canary:r:<rolloutId>` (fields `decided_at`, `rank`, `tenant`,
 * `decision` = the CanaryDecision as JSON), and two sorted sets of rollout
 * ids scored by the latest decision's event time, `<prefix>:canary:t:<tenantId>`
 * per tenant and `<prefix>:canary:all` for an admin's list.
 *
 * Writes are one pipeline per batch. Each decision goes through a Lua script
 * (EVALSHA after the first) that compares it with the stored one inside
 * Redis: a replayed or late older decision never replaces a newer one, and a
 * rollout's final decision is not undone by its `running` one of the same
 * millisecond. Stateless on the Node side.
 *
 * @example
 * const decisions = new RedisCanaryDecisions({ redis, registry });
 * await decisions.write([decision]);           // the gate's sink
 * await decisions.latest('checkout-42');      // the API's reader
 * await decisions.list('acme', 20);           // newest first
 */
export class RedisCanaryDecisions implements CanaryDecisionSink, CanaryDecisionReader {
  private readonly redis: GuardedDecisionClient;
  private readonly metrics: RedisSinkMetrics;
  private readonly keyPrefix: string;
  private readonly ttlMs: number;

  constructor(options: RedisCanaryDecisionsOptions) {
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new ConfigError(`canary decisions TTL: expected a positive whole number of ms, got ${ttlMs}`);
    }
    this.keyPrefix = options.keyPrefix ?? 'veroai';
    this.ttlMs = ttlMs;
    this.metrics = new RedisSinkMetrics(options.registry);
    this.redis = options.redis as GuardedDecisionClient;
    if (typeof this.redis.veroaiGuardedCanaryWrite !== 'function') {
      this.redis.defineCommand('veroaiGuardedCanaryWrite', {
        numberOfKeys: 3,
        lua: GUARDED_DECISION_WRITE_LUA,
      });
    }
  }

  /** The Redis key of a rollout's latest decision. */
  keyOf(rolloutId: string): string {
    return `${this.keyPrefix}:canary:r:${rolloutId}`;
  }

  /** The index of a tenant's rollouts, or of every tenant's for `*`. */
  indexOf(tenantScope: string): string {
    return tenantScope === '*' ? `${this.keyPrefix}:canary:all` : `${this.keyPrefix}:canary:t:${tenantScope}`;
  }

  /**
   * Writes a batch in one round trip; resolves once Redis acknowledged every
   * decision (kept, or refused as older than the stored one). A decision that
   * cannot be kept (no rollout or tenant, an event time that is not a
   * number, evidence that is not JSON) rejects the whole batch before
   * anything is sent, `VEROAI_ERR_SINK_DATA` with its position
   * (`valueIndex`); so does one Redis refuses (e.g. WRONGTYPE), the others
   * being written. `VEROAI_ERR_SINK_UNAVAILABLE` when Redis is down or does
   * not answer in time. Idempotent.
   */
  async write(decisions: readonly CanaryDecision[]): Promise<void> {
    if (decisions.length === 0) return;
    const encoded = decisions.map(encodeDecision);
    const pipeline = this.redis.pipeline() as unknown as GuardedDecisionClient;
    decisions.forEach((d, i) => {
      void pipeline.veroaiGuardedCanaryWrite(
        this.keyOf(d.rolloutId),
        this.indexOf(d.tenantId),
        this.indexOf('*'),
        d.decidedAt,
        canaryStatusRank(d.status),
        encoded[i]!,
        d.rolloutId,
        d.tenantId,
        this.ttlMs,
      );
    });
    await this.metrics.observe('canary_write', async () => {
      const results = await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec();
      const failure = failedReplies(
        results,
        'canary decisions write',
        (i) => `key '${this.keyOf(decisions[i]!.rolloutId)}'`,
      );
      if (failure !== undefined) throw failure;
    });
  }

  /** A rollout's latest decision, or null when none is kept. */
  async latest(rolloutId: string): Promise<CanaryDecision | null> {
    const json = await this.metrics.observe('canary_read', () =>
      this.redis.hget(this.keyOf(rolloutId), 'decision'),
    );
    return json === null ? null : (JSON.parse(json) as CanaryDecision);
  }

  /**
   * The latest decision of each of a tenant's rollouts (every tenant's for
   * `*`), newest first, at most `limit`: two round trips (the index, then the
   * decisions). A decision whose tenant is not the one asked (its rollout id
   * taken over by another tenant) is never listed.
   */
  async list(tenantScope: string, limit: number): Promise<CanaryDecision[]> {
    if (limit <= 0) return [];
    const ids = await this.metrics.observe('canary_read', () =>
      this.redis.zrevrange(this.indexOf(tenantScope), 0, limit - 1),
    );
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keyOf(id), 'decision');
    const replies = await this.metrics.observe('canary_read', async () => {
      const results = await pipeline.exec();
      const failure = failedReplies(results, 'canary decisions read', (i) => `key '${this.keyOf(ids[i]!)}'`);
      if (failure !== undefined) throw failure;
      return results ?? [];
    });
    return replies
      .map(([, json]) => (typeof json === 'string' ? (JSON.parse(json) as CanaryDecision) : null))
      .filter((d): d is CanaryDecision => d !== null && (tenantScope === '*' || d.tenantId === tenantScope));
  }
}

/** The decision as stored, or a data error naming its position when it cannot be kept faithfully. */
function encodeDecision(decision: CanaryDecision, valueIndex: number): string {
  const where = `canary decision of rollout '${decision.rolloutId}'`;
  const invalid = (message: string, cause?: unknown) =>
    new SinkDataError(`${where}: ${message}`, {
      valueIndex,
      hint: 'the canary gate must fill rolloutId, tenantId, decidedAt, status, verdict and evidenceJson',
      ...(cause === undefined ? {} : { cause }),
    });
  if (decision.rolloutId === '' || decision.tenantId === '') throw invalid('empty rollout id or tenant');
  if (decision.tenantId === '*') throw invalid("tenant '*' is reserved for the admin scope");
  if (!Number.isFinite(decision.decidedAt)) throw invalid(`decidedAt ${decision.decidedAt} is not a number`);
  if (!ROLLOUT_STATUSES.includes(decision.status)) throw invalid(`unknown status '${decision.status}'`);
  if (!CANARY_VERDICTS.includes(decision.verdict)) throw invalid(`unknown verdict '${decision.verdict}'`);
  try {
    JSON.parse(decision.evidenceJson);
  } catch (cause) {
    throw invalid('evidenceJson is not JSON', cause);
  }
  return JSON.stringify(decision);
}

import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { FeatureSink } from '../../processors/features/feature-sink.js';
import type { FeatureUpdate, FeatureView } from '../../schemas/index.js';
import { ConfigError, SinkDataError } from '../../topology/errors.js';
import type { FeatureLookup, FeatureReader, StoredFeatures } from '../readers.js';
import { RedisSinkMetrics } from './metrics.js';
import { failedReplies } from './redis-failures.js';

/** The hash field holding the event time the other fields are as of. */
export const EVENT_TIME_FIELD = '_event_time';

/**
 * Writes one update unless the hash already holds a strictly newer event time.
 * Equal event times are written: a replay then rewrites the same values, and
 * two updates of the same millisecond keep the later (more complete) one.
 * KEYS[1] hash; ARGV: event time, TTL ms, event-time field, then field/value pairs.
 * Returns 1 when written, 0 when refused.
 */
const GUARDED_WRITE_LUA = `
local stored = redis.call('HGET', KEYS[1], ARGV[3])
if stored and tonumber(stored) > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

type GuardedWriteClient = Redis & {
  veroaiGuardedFeatureWrite(key: string, ...args: Array<string | number>): Promise<number>;
};

export interface RedisFeatureStoreOptions {
  readonly redis: Redis;
  /** Metrics go here (`veroai_redis_*`, `veroai_features_*`). */
  readonly registry: Registry;
  /** First segment of every key, e.g. `veroai` gives `veroai:f:user_activity:acme/u1`. Default `veroai`. */
  readonly keyPrefix?: string;
  /** How long a (view, entity) lives after its last write. Default 48 h. */
  readonly ttlMs?: number;
}

const DEFAULT_TTL_MS = 48 * 60 * 60 * 1000;

/**
 * The online feature store on Redis: one hash per (view, entity) at
 * `<prefix>:f:<view>:<entity>`, fields = feature names plus `_event_time`,
 * expiring `ttlMs` after the last write.
 *
 * Writes are one pipeline per batch (one round trip). Each update goes through
 * a Lua script (sent once per connection, then by EVALSHA) that compares event
 * times inside Redis, so a replay or a late duplicate never moves a feature
 * back in time, even with several writers. Fields absent from an update keep
 * their value. Stateless on the Node side.
 *
 * @example
 * const store = new RedisFeatureStore({ redis, registry });
 * await store.write([{ view: 'tenant_usage', entity: 'acme', tenantId: 'acme', values: { events_1h: 42 }, eventTime }]);
 * await store.get('tenant_usage', 'acme'); // { values: { events_1h: 42 }, eventTime, ageMs, … }
 */
export class RedisFeatureStore implements FeatureSink, FeatureReader {
  private readonly redis: GuardedWriteClient;
  private readonly metrics: RedisSinkMetrics;
  private readonly keyPrefix: string;
  private readonly ttlMs: number;

  constructor(options: RedisFeatureStoreOptions) {
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new ConfigError(`feature store TTL: expected a positive whole number of ms, got ${ttlMs}`);
    }
    this.keyPrefix = options.keyPrefix ?? 'veroai';
    this.ttlMs = ttlMs;
    this.metrics = new RedisSinkMetrics(options.registry);
    this.redis = options.redis as GuardedWriteClient;
    if (typeof this.redis.veroaiGuardedFeatureWrite !== 'function') {
      this.redis.defineCommand('veroaiGuardedFeatureWrite', { numberOfKeys: 1, lua: GUARDED_WRITE_LUA });
    }
  }

  /** The Redis key of one (view, entity). */
  keyOf(view: FeatureView, entity: string): string {
    return `${this.keyPrefix}:f:${view}:${entity}`;
  }

  /**
   * Writes a batch in one round trip; resolves once Redis acknowledged every
   * update (written or refused by the event-time guard). Rejects the whole
   * batch, before writing anything, if an update cannot be written (a
   * non-finite number: `VEROAI_ERR_FEATURE_INVALID`); rejects with
   * `VEROAI_ERR_SINK_DATA` when Redis refuses an update (e.g. WRONGTYPE: the
   * key is not a hash), the others of the batch being written; both name the
   * update's position (`valueIndex`). `VEROAI_ERR_SINK_UNAVAILABLE` when
   * Redis is down or does not answer in time. Idempotent: a batch written
   * again leaves the same values.
   */
  async write(updates: readonly FeatureUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    updates.forEach(checkUpdate);
    const pipeline = this.redis.pipeline() as unknown as GuardedWriteClient;
    for (const update of updates) {
      const args: Array<string | number> = [update.eventTime, this.ttlMs, EVENT_TIME_FIELD];
      for (const [name, value] of Object.entries(update.values)) args.push(name, String(value));
      void pipeline.veroaiGuardedFeatureWrite(this.keyOf(update.view, update.entity), ...args);
    }
    const replies = await this.metrics.observe('feature_write', async () => {
      const results = await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec();
      const failure = failedReplies(
        results,
        'feature store write',
        (i) => `key '${this.keyOf(updates[i]!.view, updates[i]!.entity)}'`,
      );
      if (failure !== undefined) throw failure;
      return results ?? [];
    });
    const written = new Map<string, number>();
    const skipped = new Map<string, number>();
    replies.forEach(([, reply], i) => {
      const view = updates[i]!.view;
      const counts = reply === 1 ? written : skipped;
      counts.set(view, (counts.get(view) ?? 0) + 1);
    });
    for (const [view, n] of written) this.metrics.featuresWritten.inc({ view }, n);
    for (const [view, n] of skipped) this.metrics.staleSkipped.inc({ view }, n);
  }

  /** One (view, entity), or null when nothing is stored for it. Not timed as a write; failures are counted. */
  async get(view: FeatureView, entity: string): Promise<StoredFeatures | null> {
    const hash = await this.metrics.observe('feature_read', () =>
      this.redis.hgetall(this.keyOf(view, entity)),
    );
    return toStoredFeatures(view, entity, hash, Date.now());
  }

  /** Many (view, entity) pairs in one pipelined round trip, answers in the order asked. */
  async getMany(lookups: readonly FeatureLookup[]): Promise<Array<StoredFeatures | null>> {
    if (lookups.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const { view, entity } of lookups) pipeline.hgetall(this.keyOf(view, entity));
    const replies = await this.metrics.observe('feature_read', async () => {
      const results = await pipeline.exec();
      const failure = failedReplies(results, 'feature store read');
      if (failure !== undefined) throw failure;
      return results ?? [];
    });
    const now = Date.now();
    return lookups.map(({ view, entity }, i) =>
      toStoredFeatures(view, entity, replies[i]?.[1] as Record<string, string> | undefined, now),
    );
  }
}

function toStoredFeatures(
  view: FeatureView,
  entity: string,
  hash: Record<string, string> | undefined,
  now: number,
): StoredFeatures | null {
  if (hash === undefined) return null;
  const eventTime = Number(hash[EVENT_TIME_FIELD]);
  if (!Number.isFinite(eventTime)) return null;
  const values: Record<string, number> = {};
  for (const [name, text] of Object.entries(hash)) if (name !== EVENT_TIME_FIELD) values[name] = Number(text);
  return { view, entity, values, eventTime, ageMs: Math.max(0, now - eventTime) };
}

/** Refuses, as a data error naming its position in the batch, an update Redis could not hold faithfully. */
function checkUpdate(update: FeatureUpdate, valueIndex: number): void {
  const where = `feature update (view '${update.view}', entity '${update.entity}')`;
  const invalid = (message: string, hint: string) =>
    new SinkDataError(`${where}: ${message}`, { code: 'VEROAI_ERR_FEATURE_INVALID', valueIndex, hint });
  if (update.entity === '') {
    throw invalid('empty entity', 'the features processor must key every update by its entity');
  }
  if (!Number.isFinite(update.eventTime)) {
    throw invalid(
      `event time ${update.eventTime} is not a number`,
      'set eventTime to the epoch ms of the newest event the values include',
    );
  }
  for (const [name, value] of Object.entries(update.values)) {
    if (name === EVENT_TIME_FIELD || !Number.isFinite(value)) {
      throw invalid(
        name === EVENT_TIME_FIELD
          ? `'${EVENT_TIME_FIELD}' is reserved for the event time`
          : `feature '${name}' is ${value}, not a finite number`,
        'rename the feature, or emit 0 / omit it when it is undefined (e.g. a rate over no events)',
      );
    }
  }
}

import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FeatureUpdate, SessionSummary } from '../../schemas/index.js';
import {
  connectRedis,
  EVENT_TIME_FIELD,
  type RedisClient,
  RedisFeatureStore,
  RedisSessionHistory,
} from '../../sinks/index.js';
import {
  connectTestRedis,
  deleteKeysWithPrefix,
  startPrivateRedis,
  uniqueKeyPrefix,
} from '../support/redis.js';

const prefix = uniqueKeyPrefix('sinks');
let redis: RedisClient;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  await redis.quit();
});

function activity(entity: string, eventTime: number, events: number): FeatureUpdate {
  return {
    view: 'user_activity',
    entity,
    tenantId: entity.split('/')[0]!,
    values: { events_1h: events, error_rate_1h: events / 100 },
    eventTime,
  };
}

async function counterValue(registry: Registry, name: string, view: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.find((v) => v.labels['view'] === view)?.value ?? 0;
}

describe('RedisFeatureStore', () => {
  it('writes one hash per (view, entity) with the features, the event time and a TTL', async () => {
    const store = new RedisFeatureStore({
      redis,
      registry: new Registry(),
      keyPrefix: prefix,
      ttlMs: 60_000,
    });
    await store.write([
      activity('acme/u1', 1_700_000_000_000, 12),
      activity('acme/u2', 1_700_000_000_500, 3),
    ]);

    const key = `${prefix}:f:user_activity:acme/u1`;
    expect(store.keyOf('user_activity', 'acme/u1')).toBe(key);
    expect(await redis.hgetall(key)).toEqual({
      events_1h: '12',
      error_rate_1h: '0.12',
      [EVENT_TIME_FIELD]: '1700000000000',
    });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect((await redis.hgetall(`${prefix}:f:user_activity:acme/u2`))['events_1h']).toBe('3');
  });

  it('refuses an older event time and accepts a newer one, atomically in Redis', async () => {
    const registry = new Registry();
    const store = new RedisFeatureStore({ redis, registry, keyPrefix: prefix });
    await store.write([activity('acme/guard', 2_000, 20)]);
    await store.write([activity('acme/guard', 1_000, 10)]);
    expect((await store.get('user_activity', 'acme/guard'))?.values).toEqual({
      events_1h: 20,
      error_rate_1h: 0.2,
    });
    expect(await counterValue(registry, 'veroai_features_stale_skipped_total', 'user_activity')).toBe(1);

    await store.write([activity('acme/guard', 3_000, 30)]);
    const latest = await store.get('user_activity', 'acme/guard');
    expect(latest?.values).toEqual({ events_1h: 30, error_rate_1h: 0.3 });
    expect(latest?.eventTime).toBe(3_000);
    expect(await counterValue(registry, 'veroai_features_written_total', 'user_activity')).toBe(2);
  });

  it('exports every Redis and feature series at zero before the first write', async () => {
    const registry = new Registry();
    new RedisFeatureStore({ redis, registry, keyPrefix: prefix });
    new RedisSessionHistory({ redis, registry, keyPrefix: prefix });
    const text = await registry.metrics();
    for (const operation of ['feature_write', 'feature_read', 'session_write', 'session_read']) {
      expect(text).toContain(`veroai_redis_errors_total{operation="${operation}"} 0`);
    }
    expect(text).toContain('veroai_redis_write_seconds_count{operation="session_write"} 0');
    for (const view of ['user_activity', 'endpoint_health', 'tenant_usage']) {
      expect(text).toContain(`veroai_features_written_total{view="${view}"} 0`);
      expect(text).toContain(`veroai_features_stale_skipped_total{view="${view}"} 0`);
    }
  });

  it('keeps the newest of several updates of one entity inside a batch, whatever their order', async () => {
    const store = new RedisFeatureStore({ redis, registry: new Registry(), keyPrefix: prefix });
    await store.write([activity('acme/batch', 5_000, 50), activity('acme/batch', 4_000, 40)]);
    expect((await store.get('user_activity', 'acme/batch'))?.values['events_1h']).toBe(50);
  });

  it('leaves every value unchanged when the same batch is replayed after newer writes', async () => {
    const store = new RedisFeatureStore({ redis, registry: new Registry(), keyPrefix: prefix });
    const firstRun = [
      activity('acme/r1', 10_000, 1),
      activity('acme/r2', 10_000, 2),
      activity('acme/r1', 11_000, 3),
    ];
    const secondRun = [activity('acme/r1', 12_000, 4)];
    await store.write(firstRun);
    await store.write(secondRun);
    const keys = [store.keyOf('user_activity', 'acme/r1'), store.keyOf('user_activity', 'acme/r2')];
    const before = await Promise.all(keys.map((k) => redis.hgetall(k)));

    await store.write(firstRun);
    await store.write(secondRun);
    expect(await Promise.all(keys.map((k) => redis.hgetall(k)))).toEqual(before);
    expect(before[0]?.['events_1h']).toBe('4');
  });

  it('reads many (view, entity) pairs in one pipelined network write, in order, null when absent', async () => {
    const store = new RedisFeatureStore({ redis, registry: new Registry(), keyPrefix: prefix });
    const eventTime = Date.now() - 5_000;
    await store.write([
      activity('globex/m1', eventTime, 7),
      { view: 'tenant_usage', entity: 'globex', tenantId: 'globex', values: { events_1h: 70 }, eventTime },
    ]);
    const pipelineSpy = vi.spyOn(redis, 'pipeline');
    const stream = (redis as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
    const writeSpy = vi.spyOn(stream, 'write');
    const found = await store.getMany([
      { view: 'user_activity', entity: 'globex/m1' },
      { view: 'tenant_usage', entity: 'globex' },
      { view: 'user_activity', entity: 'globex/nobody' },
    ]);
    expect(pipelineSpy).toHaveBeenCalledTimes(1);
    expect(writeSpy).toHaveBeenCalledTimes(1);
    pipelineSpy.mockRestore();
    writeSpy.mockRestore();

    expect(found.map((f) => f?.entity ?? null)).toEqual(['globex/m1', 'globex', null]);
    expect(found[0]?.values).toEqual({ events_1h: 7, error_rate_1h: 0.07 });
    expect(found[1]).toMatchObject({ view: 'tenant_usage', values: { events_1h: 70 }, eventTime });
    expect(found[1]!.ageMs).toBeGreaterThanOrEqual(5_000);
  });

  it('keeps guarding after Redis lost its script cache (SCRIPT FLUSH), on a private Redis', async () => {
    const privateRedis = await startPrivateRedis();
    const client = await connectRedis(privateRedis.url);
    try {
      const store = new RedisFeatureStore({ redis: client, registry: new Registry() });
      await store.write([activity('acme/flush', 2_000, 2)]);
      await client.script('FLUSH');
      await store.write([activity('acme/flush', 1_000, 1), activity('acme/flush2', 1_000, 1)]);
      expect((await store.get('user_activity', 'acme/flush'))?.values['events_1h']).toBe(2);
      expect((await store.get('user_activity', 'acme/flush2'))?.values['events_1h']).toBe(1);
    } finally {
      client.disconnect();
      await privateRedis.stop();
    }
  });

  it('rejects a batch holding a non-finite feature before writing any of it', async () => {
    const store = new RedisFeatureStore({ redis, registry: new Registry(), keyPrefix: prefix });
    const bad: FeatureUpdate = { ...activity('acme/nan', 1_000, 1), values: { error_rate_1h: Number.NaN } };
    await expect(store.write([activity('acme/ok-before-nan', 1_000, 1), bad])).rejects.toThrow(
      /feature 'error_rate_1h' is NaN, not a finite number/,
    );
    expect(await redis.exists(store.keyOf('user_activity', 'acme/ok-before-nan'))).toBe(0);
  });
});

function session(user: string, start: number, events: number): SessionSummary {
  return {
    tenantId: 'acme',
    userId: user,
    start,
    end: start + 60_000,
    durationMs: 60_000,
    eventCount: events,
    countsByType: { pageview: events },
    errorCount: 0,
    distinctPages: 1,
    lastPath: '/home',
  };
}

describe('RedisSessionHistory', () => {
  it('keeps one copy of a session written twice, the latest details of a rewritten one, with a TTL', async () => {
    const history = new RedisSessionHistory({
      redis,
      registry: new Registry(),
      keyPrefix: prefix,
      ttlMs: 90_000,
    });
    await history.append([session('s1', 1_000, 3), session('s1', 100_000, 4)]);
    await history.append([session('s1', 1_000, 3), session('s1', 100_000, 4)]);
    await history.append([session('s1', 100_000, 5)]);

    const recent = await history.recent('acme', 's1');
    expect(recent.map((s) => [s.start, s.eventCount])).toEqual([
      [100_000, 5],
      [1_000, 3],
    ]);
    expect(recent[1]).toEqual(session('s1', 1_000, 3));
    const ttl = await redis.pttl(history.keyOf('acme', 's1'));
    expect(ttl).toBeGreaterThan(80_000);
    expect(ttl).toBeLessThanOrEqual(90_000);
  });

  it('keeps only the newest N sessions, and a replayed old one does not come back', async () => {
    const history = new RedisSessionHistory({ redis, registry: new Registry(), keyPrefix: prefix, keep: 20 });
    const sessions = Array.from({ length: 25 }, (_, i) => session('s2', (i + 1) * 1_000_000, i));
    await history.append(sessions.slice(0, 10));
    await history.append(sessions.slice(10));
    await history.append([sessions[0]!]);

    const recent = await history.recent('acme', 's2');
    expect(recent).toHaveLength(20);
    expect(recent[0]!.start).toBe(25_000_000);
    expect(recent[19]!.start).toBe(6_000_000);
    expect(await redis.zcard(history.keyOf('acme', 's2'))).toBe(20);
  });

  it('answers an empty list for a user without history', async () => {
    const history = new RedisSessionHistory({ redis, registry: new Registry(), keyPrefix: prefix });
    expect(await history.recent('acme', 'nobody')).toEqual([]);
  });
});

describe('connectRedis', () => {
  it('names the variable and the expected form for a malformed URL', async () => {
    await expect(connectRedis('localhost:6379')).rejects.toThrow(/REDIS_URL: expected a redis:\/\//);
  });

  it('fails with a hint, without the password, when nothing answers', async () => {
    const failure = connectRedis('redis://user:s3cret@127.0.0.1:1', { connectTimeoutMs: 500 });
    await expect(failure).rejects.toMatchObject({ code: 'VEROAI_ERR_REDIS_UNREACHABLE' });
    await expect(failure).rejects.toThrow(/cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1/);
    await expect(failure).rejects.not.toThrow(/s3cret/);
  });
});

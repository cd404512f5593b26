/**
 * RedisCanaryDecisions on a real Redis (and MemoryCanaryDecisions beside it):
 * the latest decision per rollout under the event-time and status guard,
 * the per-tenant and all-tenants lists, and failures mapped to the catalogue.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryDecision } from '../../schemas/index.js';
import { connectRedis, RedisCanaryDecisions, type RedisClient } from '../../sinks/index.js';
import { MemoryCanaryDecisions } from '../../sinks/memory/memory-sinks.js';
import { SinkDataError, VeroaiError } from '../../topology/errors.js';
import { CANARY_T0, canaryDecision } from '../support/canary-decision.js';
import {
  connectTestRedis,
  deleteKeysWithPrefix,
  startPrivateRedis,
  uniqueKeyPrefix,
} from '../support/redis.js';

const prefix = uniqueKeyPrefix('canary');
let redis: RedisClient;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  await redis.quit();
});

const T0 = CANARY_T0;

/** A decision of the fixture's rollout, hold while running, with a smaller evidence. */
function decision(rolloutId: string, overrides: Partial<CanaryDecision> = {}): CanaryDecision {
  return canaryDecision(rolloutId, { score: 50, evidenceJson: '{"reasons":[],"tests":[]}', ...overrides });
}

function store(options: { ttlMs?: number; registry?: Registry } = {}): RedisCanaryDecisions {
  return new RedisCanaryDecisions({
    redis,
    registry: options.registry ?? new Registry(),
    keyPrefix: prefix,
    ...options,
  });
}

describe('RedisCanaryDecisions', () => {
  it('keeps the latest decision of a rollout in a hash with a TTL, indexed by tenant and for all tenants', async () => {
    const decisions = store({ ttlMs: 60_000 });
    const d = decision('layout-1', { verdict: 'promote', status: 'promoted', score: 97 });
    await decisions.write([d]);

    const key = `${prefix}:canary:r:layout-1`;
    expect(decisions.keyOf('layout-1')).toBe(key);
    expect(await redis.hgetall(key)).toEqual({
      decided_at: String(T0),
      rank: '1',
      tenant: 'acme',
      decision: JSON.stringify(d),
    });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.zscore(`${prefix}:canary:t:acme`, 'layout-1')).toBe(String(T0));
    expect(await redis.zscore(`${prefix}:canary:all`, 'layout-1')).toBe(String(T0));
    expect(await decisions.latest('layout-1')).toEqual(d);
    expect(await decisions.latest('no-such-rollout')).toBeNull();
  });

  it('never replaces a decision with an older one, nor a final one with a running one of the same millisecond', async () => {
    const decisions = store();
    const held = decision('guard-1', { decidedAt: T0 + 60_000, windowsJudged: 1 });
    await decisions.write([held]);
    await decisions.write([decision('guard-1', { decidedAt: T0, summary: 'started' })]);
    expect(await decisions.latest('guard-1')).toEqual(held);

    const rolledBack = decision('guard-1', {
      decidedAt: T0 + 120_000,
      status: 'rolled_back',
      verdict: 'rollback',
      score: 12,
    });
    // one batch, the final decision before a running one of the same event time (e.g. a replay)
    await decisions.write([rolledBack, decision('guard-1', { decidedAt: T0 + 120_000, windowsJudged: 2 })]);
    expect(await decisions.latest('guard-1')).toEqual(rolledBack);

    // a running decision followed by the final one of the same millisecond: the final one wins
    await decisions.write([
      decision('guard-2', { decidedAt: T0 }),
      decision('guard-2', { decidedAt: T0, status: 'aborted', verdict: 'rollback', summary: 'aborted' }),
    ]);
    expect((await decisions.latest('guard-2'))?.status).toBe('aborted');

    // the same decision written again (a replay) leaves it as it is
    await decisions.write([rolledBack]);
    expect(await decisions.latest('guard-1')).toEqual(rolledBack);
  });

  it("lists a tenant's rollouts newest first up to a limit, every tenant's for '*'", async () => {
    const decisions = new RedisCanaryDecisions({
      redis,
      registry: new Registry(),
      keyPrefix: `${prefix}:list`,
    });
    await decisions.write([
      decision('a-1', { tenantId: 'acme', decidedAt: T0 + 1_000 }),
      decision('a-2', { tenantId: 'acme', decidedAt: T0 + 3_000 }),
      decision('g-1', { tenantId: 'globex', decidedAt: T0 + 2_000 }),
      decision('a-3', { tenantId: 'acme', decidedAt: T0 + 4_000 }),
    ]);
    // a later decision moves its rollout to the front
    await decisions.write([decision('a-1', { tenantId: 'acme', decidedAt: T0 + 5_000, verdict: 'promote' })]);

    expect((await decisions.list('acme', 10)).map((d) => d.rolloutId)).toEqual(['a-1', 'a-3', 'a-2']);
    expect((await decisions.list('acme', 2)).map((d) => d.rolloutId)).toEqual(['a-1', 'a-3']);
    expect((await decisions.list('globex', 10)).map((d) => d.rolloutId)).toEqual(['g-1']);
    expect((await decisions.list('*', 10)).map((d) => d.rolloutId)).toEqual(['a-1', 'a-3', 'a-2', 'g-1']);
    expect(await decisions.list('initech', 10)).toEqual([]);
    expect(await decisions.list('acme', 0)).toEqual([]);
  });

  it('never lists a rollout under a tenant whose it no longer is', async () => {
    const decisions = new RedisCanaryDecisions({
      redis,
      registry: new Registry(),
      keyPrefix: `${prefix}:moved`,
    });
    await decisions.write([decision('shared-id', { tenantId: 'acme', decidedAt: T0 })]);
    await decisions.write([decision('shared-id', { tenantId: 'globex', decidedAt: T0 + 1_000 })]);
    expect(await decisions.list('acme', 10)).toEqual([]);
    expect((await decisions.list('globex', 10)).map((d) => d.tenantId)).toEqual(['globex']);
  });

  it('drops index entries older than the retention, by event time', async () => {
    const decisions = new RedisCanaryDecisions({
      redis,
      registry: new Registry(),
      keyPrefix: `${prefix}:retention`,
      ttlMs: 10_000,
    });
    await decisions.write([decision('old', { decidedAt: T0 })]);
    await decisions.write([decision('new', { decidedAt: T0 + 60_000 })]);
    expect((await decisions.list('acme', 10)).map((d) => d.rolloutId)).toEqual(['new']);
  });

  it('refuses a decision it cannot keep before writing any of the batch, naming its position', async () => {
    const decisions = store();
    const bad = [decision('invalid-ok'), decision('invalid-evidence', { evidenceJson: '{not json' })];
    const error = await decisions.write(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkDataError);
    expect(error).toMatchObject({ code: 'VEROAI_ERR_SINK_DATA', valueIndex: 1, retriable: false });
    expect((error as Error).message).toMatch(/rollout 'invalid-evidence'.*evidenceJson is not JSON/);
    expect(await decisions.latest('invalid-ok')).toBeNull();

    for (const [field, value] of [
      ['tenantId', ''],
      ['tenantId', '*'],
      ['decidedAt', Number.NaN],
      ['status', 'paused'],
      ['verdict', 'maybe'],
    ] as const) {
      await expect(decisions.write([decision('invalid', { [field]: value })])).rejects.toMatchObject({
        code: 'VEROAI_ERR_SINK_DATA',
        valueIndex: 0,
      });
    }
  });

  it('answers a key of the wrong type with a data error naming the key (dead-lettered, not retried)', async () => {
    const decisions = store();
    await redis.set(`${prefix}:canary:r:wrongtype`, 'a string');
    const error = await decisions.write([decision('wrongtype')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkDataError);
    expect(error).toMatchObject({ code: 'VEROAI_ERR_SINK_DATA', retriable: false });
    expect((error as Error).message).toContain(`key '${prefix}:canary:r:wrongtype'`);
    await expect(decisions.latest('wrongtype')).rejects.toMatchObject({ code: 'VEROAI_ERR_SINK_DATA' });
  });

  it('fails retriably (VEROAI_ERR_SINK_UNAVAILABLE) while Redis is down, and counts it', async () => {
    const privateRedis = await startPrivateRedis();
    const client = await connectRedis(privateRedis.url, { connectTimeoutMs: 1_000 });
    try {
      const registry = new Registry();
      const decisions = new RedisCanaryDecisions({ redis: client, registry, keyPrefix: prefix });
      await decisions.write([decision('outage')]);
      await privateRedis.stop();
      for (const call of [() => decisions.write([decision('outage')]), () => decisions.latest('outage')]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(VeroaiError);
        expect(error).toMatchObject({ code: 'VEROAI_ERR_SINK_UNAVAILABLE', retriable: true });
      }
      const text = await registry.metrics();
      expect(text).toContain('veroai_redis_errors_total{operation="canary_write"} 1');
      expect(text).toContain('veroai_redis_errors_total{operation="canary_read"} 1');
    } finally {
      client.disconnect();
      await privateRedis.stop();
    }
  });

  it('exports its Redis series at zero before the first write', async () => {
    const registry = new Registry();
    store({ registry });
    const text = await registry.metrics();
    expect(text).toContain('veroai_redis_errors_total{operation="canary_write"} 0');
    expect(text).toContain('veroai_redis_errors_total{operation="canary_read"} 0');
    expect(text).toContain('veroai_redis_write_seconds_count{operation="canary_write"} 0');
  });

  it('keeps and lists what MemoryCanaryDecisions keeps and lists, for the same writes', async () => {
    const decisions = new RedisCanaryDecisions({
      redis,
      registry: new Registry(),
      keyPrefix: `${prefix}:same`,
    });
    const memory = new MemoryCanaryDecisions();
    const batches: CanaryDecision[][] = [
      [decision('s-1', { decidedAt: T0 + 10 }), decision('s-2', { tenantId: 'globex', decidedAt: T0 + 10 })],
      [decision('s-1', { decidedAt: T0 + 5, summary: 'late' })],
      [
        decision('s-1', { decidedAt: T0 + 20, status: 'promoted', verdict: 'promote' }),
        decision('s-1', { decidedAt: T0 + 20 }),
      ],
      [decision('s-3', { decidedAt: T0 + 10 }), decision('s-2', { tenantId: 'globex', decidedAt: T0 + 30 })],
    ];
    for (const batch of batches) {
      await decisions.write(batch);
      await memory.write(batch);
    }
    for (const id of ['s-1', 's-2', 's-3', 's-4']) {
      expect(await decisions.latest(id)).toEqual(await memory.latest(id));
    }
    for (const scope of ['acme', 'globex', '*']) {
      expect(await decisions.list(scope, 10)).toEqual(await memory.list(scope, 10));
      expect(await decisions.list(scope, 1)).toEqual(await memory.list(scope, 1));
    }
  });
});

/**
 * RedisSecurityIncidents on a real Redis (and MemorySecurityIncidents beside
 * it): the newest state per incident under duplicate and out-of-order
 * writes, the per-tenant and admin indexes (IP incidents in the admin's
 * only), their bounds, the TTL of final incidents, the list filters, the
 * triage note, and failures mapped to the catalogue.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecurityIncident } from '../../schemas/index.js';
import {
  connectRedis,
  type IncidentReader,
  type RedisClient,
  RedisSecurityIncidents,
  type RedisSecurityIncidentsOptions,
} from '../../sinks/index.js';
import { MemorySecurityIncidents } from '../../sinks/memory/memory-sinks.js';
import { SinkDataError, VeroaiError } from '../../topology/errors.js';
import {
  connectTestRedis,
  deleteKeysWithPrefix,
  startPrivateRedis,
  uniqueKeyPrefix,
} from '../support/redis.js';
import {
  INCIDENT_T0,
  ipEntity,
  securityIncident,
  tenantEntity,
  userEntity,
} from '../support/security-incident.js';

const prefix = uniqueKeyPrefix('incidents');
let redis: RedisClient;
let stores = 0;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  await redis.quit();
});

const T0 = INCIDENT_T0;
const MINUTE = 60_000;

type Options = Pick<RedisSecurityIncidentsOptions, 'maxPerIndex' | 'finalTtlMs'>;

/** A Redis store with keys of its own (a fresh sub-prefix), so tests never see each other's incidents. */
function redisStore(options: Options = {}, registry = new Registry()): RedisSecurityIncidents {
  stores += 1;
  return new RedisSecurityIncidents({ redis, registry, keyPrefix: `${prefix}:${stores}`, ...options });
}

type Store = IncidentReader & {
  write(incident: SecurityIncident): Promise<void>;
  setTriageNote(incidentId: string, note: string): Promise<void>;
};

const ids = (incidents: ReadonlyArray<{ incidentId: string }>) => incidents.map((i) => i.incidentId);
const without = ({ triageNote: _, ...incident }: SecurityIncident & { triageNote: string | null }) =>
  incident;

// the rules both stores keep, for the same writes
describe.each([
  ['RedisSecurityIncidents', (options: Options = {}): Store => redisStore(options)],
  ['MemorySecurityIncidents', (options: Options = {}): Store => new MemorySecurityIncidents(options)],
])('%s', (_name, storeOf) => {
  const alice = userEntity('acme', 'alice');
  const opened = securityIncident(alice);
  const escalated = { ...opened, status: 'escalated', updatedAt: T0 + MINUTE, anomalousWindows: 3 } as const;
  const closed = {
    ...opened,
    status: 'closed',
    updatedAt: T0 + 2 * MINUTE,
    resolvedAt: T0 + 2 * MINUTE,
    resolution: 'closed by a person',
  } as const;

  it('keeps the newest state of an incident whatever the order and repetition of its records', async () => {
    const store = storeOf();
    // a restart replays the older records after the newer ones, some twice
    for (const record of [escalated, opened, closed, opened, escalated, closed, opened])
      await store.write(record);
    expect(without((await store.get(opened.incidentId))!)).toEqual(closed);

    const other = storeOf();
    for (const record of [closed, escalated, opened]) await other.write(record);
    expect(without((await other.get(opened.incidentId))!)).toEqual(closed);
    expect(await other.get(securityIncident(alice, { detectedAfterMs: 1 }).incidentId)).toBeNull();
  });

  it('at the same updatedAt, a later status in the lifecycle wins (open < escalated < closed, auto_resolved)', async () => {
    const store = storeOf();
    const at = T0 + 5 * MINUTE;
    const same = (status: SecurityIncident['status'], summary: string) => ({
      ...opened,
      status,
      updatedAt: at,
      summary,
    });
    await store.write(same('escalated', 'escalated'));
    await store.write(same('open', 'open again'));
    expect((await store.get(opened.incidentId))?.status).toBe('escalated');
    await store.write(same('auto_resolved', 'quiet for 30 minutes'));
    await store.write(same('escalated', 'escalated again'));
    expect((await store.get(opened.incidentId))?.summary).toBe('quiet for 30 minutes');
    // between the two final statuses of one millisecond, the later written wins
    await store.write(same('closed', 'closed by a person'));
    expect((await store.get(opened.incidentId))?.status).toBe('closed');
    // a later updatedAt replaces whatever its status
    await store.write({ ...same('open', 'reopened'), updatedAt: at + 1 });
    expect((await store.get(opened.incidentId))?.status).toBe('open');
  });

  it("lists a tenant's incidents newest detected first; IP incidents only for the admin", async () => {
    const store = storeOf();
    const acme1 = securityIncident(userEntity('acme', 'alice'), { detectedAfterMs: 1_000 });
    const acme2 = securityIncident(tenantEntity('acme'), { kind: 'error_storm', detectedAfterMs: 3_000 });
    const globex = securityIncident(userEntity('globex', 'bob'), { detectedAfterMs: 2_000 });
    const ip = securityIncident(ipEntity('203.0.113.7'), { kind: 'scraping', detectedAfterMs: 4_000 });
    for (const incident of [acme1, ip, globex, acme2]) await store.write(incident);

    expect(ids(await store.list('acme', { limit: 10 }))).toEqual([acme2.incidentId, acme1.incidentId]);
    expect(ids(await store.list('globex', { limit: 10 }))).toEqual([globex.incidentId]);
    expect(ids(await store.list('*', { limit: 10 }))).toEqual([
      ip.incidentId,
      acme2.incidentId,
      globex.incidentId,
      acme1.incidentId,
    ]);
    expect(ids(await store.list('*', { limit: 2 }))).toEqual([ip.incidentId, acme2.incidentId]);
    expect(await store.list('initech', { limit: 10 })).toEqual([]);
    expect(await store.list('acme', { limit: 0 })).toEqual([]);
    // the IP incident is in no tenant's list, whichever
    for (const tenant of ['acme', 'globex', '203.0.113.7', ''])
      expect(ids(await store.list(tenant, { limit: 10 }))).not.toContain(ip.incidentId);
    expect((await store.get(ip.incidentId))?.tenantId).toBeNull();
  });

  it('filters by status, kind and since (detectedAt at or after it), on the latest state', async () => {
    const store = storeOf();
    const a = securityIncident(userEntity('acme', 'a'), { detectedAfterMs: 1 * MINUTE });
    const b = securityIncident(userEntity('acme', 'b'), { kind: 'token_abuse', detectedAfterMs: 2 * MINUTE });
    const c = securityIncident(tenantEntity('acme'), { kind: 'latency_spike', detectedAfterMs: 3 * MINUTE });
    const d = securityIncident(userEntity('acme', 'd'), { detectedAfterMs: 4 * MINUTE });
    for (const incident of [a, b, c, d]) await store.write(incident);
    // b, then d, leave 'open'
    await store.write({
      ...b,
      status: 'auto_resolved',
      updatedAt: b.updatedAt + MINUTE,
      resolvedAt: b.updatedAt,
    });
    await store.write({ ...d, status: 'escalated', updatedAt: d.updatedAt + MINUTE });

    expect(ids(await store.list('acme', { status: 'open', limit: 10 }))).toEqual([
      c.incidentId,
      a.incidentId,
    ]);
    expect(ids(await store.list('acme', { status: 'auto_resolved', limit: 10 }))).toEqual([b.incidentId]);
    expect(ids(await store.list('acme', { kind: 'credential_stuffing', limit: 10 }))).toEqual([
      d.incidentId,
      a.incidentId,
    ]);
    expect(ids(await store.list('acme', { since: c.detectedAt, limit: 10 }))).toEqual([
      d.incidentId,
      c.incidentId,
    ]);
    expect(ids(await store.list('acme', { since: c.detectedAt + 1, limit: 10 }))).toEqual([d.incidentId]);
    expect(
      ids(await store.list('acme', { status: 'open', kind: 'credential_stuffing', since: T0, limit: 10 })),
    ).toEqual([a.incidentId]);
    expect(ids(await store.list('acme', { status: 'open', limit: 1 }))).toEqual([c.incidentId]);
    expect(await store.list('acme', { status: 'closed', limit: 10 })).toEqual([]);
  });

  it('finds matches past many that do not (a list reads the index a page at a time)', async () => {
    const store = storeOf();
    const old = securityIncident(userEntity('acme', 'old'), { kind: 'scraping' });
    await store.write(old);
    for (let i = 1; i <= 450; i++)
      await store.write(securityIncident(userEntity('acme', `u${i}`), { detectedAfterMs: i }));
    expect(ids(await store.list('acme', { kind: 'scraping', limit: 5 }))).toEqual([old.incidentId]);
    const newest = await store.list('acme', { limit: 100 });
    expect(newest).toHaveLength(100);
    expect(newest[0]!.detectedAt).toBe(T0 + 450);
    expect(newest[99]!.detectedAt).toBe(T0 + 351);
  });

  it('keeps at most maxPerIndex incidents per index, trimming the oldest detected', async () => {
    const store = storeOf({ maxPerIndex: 3 });
    const acme = [1, 2, 3, 4].map((i) =>
      securityIncident(userEntity('acme', `u${i}`), { detectedAfterMs: i * MINUTE }),
    );
    const globex = securityIncident(userEntity('globex', 'bob'), { detectedAfterMs: 5 * MINUTE });
    for (const incident of acme) await store.write(incident);
    // acme's 4 went past the bound of both indexes: the oldest is gone
    expect(ids(await store.list('acme', { limit: 10 }))).toEqual(ids(acme.slice(1).reverse()));
    expect(await store.get(acme[0]!.incidentId)).toBeNull();

    // globex's pushes acme's oldest out of the admin index: it is deleted, and left acme's list too
    await store.write(globex);
    expect(ids(await store.list('*', { limit: 10 }))).toEqual([
      globex.incidentId,
      acme[3]!.incidentId,
      acme[2]!.incidentId,
    ]);
    expect(await store.get(acme[1]!.incidentId)).toBeNull();
    expect(ids(await store.list('acme', { limit: 10 }))).toEqual([acme[3]!.incidentId, acme[2]!.incidentId]);

    // an old record replayed is trimmed again at once
    await store.write(acme[0]!);
    expect(await store.get(acme[0]!.incidentId)).toBeNull();
    expect(ids(await store.list('*', { limit: 10 }))).toHaveLength(3);
  });

  it('serves a triage note with its incident, whether it came before or after it', async () => {
    const store = storeOf();
    const before = securityIncident(userEntity('acme', 'early'), { detectedAfterMs: 1 });
    const after = securityIncident(userEntity('acme', 'late'), { detectedAfterMs: 2 });
    await store.setTriageNote(before.incidentId, 'a bot: one user agent, many accounts');
    // a note without its incident is not an incident
    expect(await store.get(before.incidentId)).toBeNull();
    expect(await store.list('acme', { limit: 10 })).toEqual([]);
    await store.write(before);
    await store.write(after);
    expect(await store.get(after.incidentId)).toEqual({ ...after, triageNote: null });
    await store.setTriageNote(after.incidentId, 'first note');
    await store.setTriageNote(after.incidentId, 'likely a password spray from one ASN');
    // a new state of the incident keeps its note
    await store.write({ ...after, status: 'escalated', updatedAt: after.updatedAt + MINUTE });

    expect(await store.get(before.incidentId)).toEqual({
      ...before,
      triageNote: 'a bot: one user agent, many accounts',
    });
    expect((await store.list('acme', { limit: 10 })).map((i) => [i.incidentId, i.triageNote])).toEqual([
      [after.incidentId, 'likely a password spray from one ASN'],
      [before.incidentId, 'a bot: one user agent, many accounts'],
    ]);
    await expect(store.setTriageNote('not-an-incident', 'note')).rejects.toMatchObject({
      code: 'VEROAI_ERR_SINK_DATA',
    });
    await expect(store.setTriageNote(after.incidentId, 'x'.repeat(4_001))).rejects.toMatchObject({
      code: 'VEROAI_ERR_SINK_DATA',
    });
  });

  it("refuses an incident whose id does not name its entity, kind and detectedAt, or whose tenant is not its entity's", async () => {
    const store = storeOf();
    const good = securityIncident(userEntity('acme', 'alice'));
    for (const bad of [
      { ...good, tenantId: 'globex' },
      { ...good, tenantId: null },
      { ...good, entityId: 'mallory' },
      { ...good, entityKind: 'tenant' as const },
      { ...good, kind: 'scraping' as const },
      { ...good, detectedAt: good.detectedAt + 1 },
      { ...good, incidentId: 'not-an-id' },
      { ...good, severity: 'extreme' as never },
      { ...good, updatedAt: Number.NaN },
      { ...securityIncident(tenantEntity('*')) },
    ]) {
      const error = await store.write(bad).catch((e: unknown) => e);
      expect(error, JSON.stringify(bad)).toBeInstanceOf(SinkDataError);
      expect(error).toMatchObject({ code: 'VEROAI_ERR_SINK_DATA', retriable: false });
    }
    expect(await store.list('*', { limit: 10 })).toEqual([]);
    expect(await store.list('globex', { limit: 10 })).toEqual([]);
  });
});

describe('RedisSecurityIncidents on Redis', () => {
  it('keeps an incident in a hash, indexed by detectedAt for its tenant and for the admin', async () => {
    const store = redisStore();
    const incident = securityIncident(userEntity('acme', 'alice'));
    await store.write(incident);
    const key = store.keyOf(incident.incidentId);
    expect(key).toBe(`${prefix}:${stores}:incidents:i:${incident.incidentId}`);
    expect(await redis.hgetall(key)).toEqual({
      updated_at: String(incident.updatedAt),
      rank: '0',
      tenant: 'acme',
      incident: JSON.stringify(incident),
    });
    expect(await redis.pttl(key)).toBe(-1);
    expect(await redis.zscore(store.indexOf('acme'), incident.incidentId)).toBe(String(T0));
    expect(await redis.zscore(store.indexOf('*'), incident.incidentId)).toBe(String(T0));
  });

  it('indexes an IP incident in the admin index only', async () => {
    const store = redisStore();
    const ip = securityIncident(ipEntity('198.51.100.9'), { kind: 'scraping' });
    await store.write(ip);
    expect(await redis.hget(store.keyOf(ip.incidentId), 'tenant')).toBe('');
    expect(await redis.zrevrange(store.indexOf('*'), 0, -1)).toEqual([ip.incidentId]);
    const indexes = await redis.keys(`${store.indexOf('')}*`);
    expect(indexes).toEqual([]);
  });

  it("deletes an incident trimmed from the admin index, with its tenant's index entry", async () => {
    const store = redisStore({ maxPerIndex: 2 });
    const acme = securityIncident(userEntity('acme', 'oldest'));
    const others = [1, 2].map((i) => securityIncident(userEntity('globex', `u${i}`), { detectedAfterMs: i }));
    await store.write(acme);
    await store.setTriageNote(acme.incidentId, 'a note goes with its incident');
    for (const incident of others) await store.write(incident);
    expect(await redis.exists(store.keyOf(acme.incidentId))).toBe(0);
    expect(await redis.zcard(store.indexOf('acme'))).toBe(0);
    expect(await redis.zrevrange(store.indexOf('*'), 0, -1)).toEqual(ids(others.reverse()));
  });

  it('expires a closed or auto-resolved incident after finalTtlMs, and keeps an open or escalated one', async () => {
    const store = redisStore({ finalTtlMs: 60_000 });
    const a = securityIncident(userEntity('acme', 'a'));
    const b = securityIncident(userEntity('acme', 'b'));
    await store.write(a);
    await store.write({ ...a, status: 'escalated', updatedAt: a.updatedAt + 1 });
    expect(await redis.pttl(store.keyOf(a.incidentId))).toBe(-1);
    await store.write({ ...a, status: 'closed', updatedAt: a.updatedAt + 2, resolvedAt: a.updatedAt + 2 });
    await store.write({ ...b, status: 'auto_resolved', resolvedAt: b.updatedAt });
    for (const id of [a.incidentId, b.incidentId]) {
      const ttl = await redis.pttl(store.keyOf(id));
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    // a record refused as older leaves the TTL as it is
    await store.write(a);
    expect(await redis.pttl(store.keyOf(a.incidentId))).toBeGreaterThan(0);

    // an expired incident is skipped by lists until its index entry is trimmed
    await redis.del(store.keyOf(b.incidentId));
    expect(ids(await store.list('acme', { limit: 1 }))).toEqual([a.incidentId]);

    // a note waiting for its incident expires too, and persists once an open incident arrives
    const c = securityIncident(userEntity('acme', 'c'));
    await store.setTriageNote(c.incidentId, 'early note');
    expect(await redis.pttl(store.keyOf(c.incidentId))).toBeGreaterThan(50_000);
    await store.write(c);
    expect(await redis.pttl(store.keyOf(c.incidentId))).toBe(-1);
  });

  it('writes and lists as MemorySecurityIncidents does, for the same writes', async () => {
    const redisSide = redisStore({ maxPerIndex: 20 });
    const memorySide = new MemorySecurityIncidents({ maxPerIndex: 20 });
    const tenants = ['acme', 'globex'];
    const kinds = ['credential_stuffing', 'scraping', 'token_abuse'] as const;
    const statuses = ['open', 'escalated', 'auto_resolved', 'closed'] as const;
    const records: SecurityIncident[] = [];
    for (let i = 0; i < 40; i++) {
      const entity = i % 7 === 0 ? ipEntity(`192.0.2.${i % 5}`) : userEntity(tenants[i % 2]!, `u${i % 9}`);
      const base = securityIncident(entity, { kind: kinds[i % 3]!, detectedAfterMs: (i % 11) * MINUTE });
      records.push({ ...base, status: statuses[(i * 7) % 4]!, updatedAt: base.updatedAt + ((i * 13) % 5) });
    }
    for (const record of records) {
      await redisSide.write(record);
      await memorySide.write(record);
    }
    for (const scope of ['acme', 'globex', '*'])
      for (const query of [
        { limit: 50 },
        { limit: 3 },
        { status: 'open' as const, limit: 50 },
        { kind: 'scraping' as const, since: T0 + 4 * MINUTE, limit: 50 },
      ])
        expect(await redisSide.list(scope, query), `${scope} ${JSON.stringify(query)}`).toEqual(
          await memorySide.list(scope, query),
        );
  });

  it('answers a key of the wrong type with a data error naming the key (dead-lettered, not retried)', async () => {
    const store = redisStore();
    const incident = securityIncident(userEntity('acme', 'wrongtype'));
    await redis.set(store.keyOf(incident.incidentId), 'a string');
    const error = await store.write(incident).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkDataError);
    expect(error).toMatchObject({ code: 'VEROAI_ERR_SINK_DATA', retriable: false });
    expect((error as Error).message).toContain(`key '${store.keyOf(incident.incidentId)}'`);
  });

  it('fails retriably (VEROAI_ERR_SINK_UNAVAILABLE) while Redis is down, and counts it', async () => {
    const privateRedis = await startPrivateRedis();
    const client = await connectRedis(privateRedis.url, { connectTimeoutMs: 1_000 });
    try {
      const registry = new Registry();
      const store = new RedisSecurityIncidents({ redis: client, registry, keyPrefix: prefix });
      const incident = securityIncident(userEntity('acme', 'outage'));
      await store.write(incident);
      await privateRedis.stop();
      for (const call of [
        () => store.write(incident),
        () => store.get(incident.incidentId),
        () => store.list('acme', { limit: 5 }),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(VeroaiError);
        expect(error).toMatchObject({ code: 'VEROAI_ERR_SINK_UNAVAILABLE', retriable: true });
      }
      const text = await registry.metrics();
      expect(text).toContain('veroai_redis_errors_total{operation="incident_write"} 1');
      expect(text).toContain('veroai_redis_errors_total{operation="incident_read"} 2');
    } finally {
      client.disconnect();
      await privateRedis.stop();
    }
  });

  it('refuses a bound or TTL that is not a positive whole number', () => {
    expect(() => redisStore({ maxPerIndex: 0 })).toThrow(/positive whole number per index/);
    expect(() => redisStore({ finalTtlMs: 1.5 })).toThrow(/positive whole number of ms/);
  });
});

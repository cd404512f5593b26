import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseApiKeys } from '../../api/auth.js';
import { buildApiServer } from '../../api/server.js';
import type { FeatureUpdate, SessionSummary } from '../../schemas/index.js';
import { connectRedis, type RedisClient, RedisFeatureStore, RedisSessionHistory } from '../../sinks/index.js';
import { MemoryTransport, Serdes, StreamsApplication, TopologyBuilder } from '../../topology/index.js';
import { connectTestRedis, deleteKeysWithPrefix, redisUrl, uniqueKeyPrefix } from '../support/redis.js';

const prefix = uniqueKeyPrefix('api');
const apiKeys = parseApiKeys('acme-key:acme, globex-key:globex, admin-key:*');
const logger = pino({ level: 'silent' });
const endpoint = 'acme/GET /v1/orders/:id';
const now = Date.now();
/** globex's feature values are 777; a standalone 777 in a body means they leaked (a timestamp may hold the digits). */
const GLOBEX_ONLY_VALUE = /\b777\b/;

let redis: RedisClient;
let registry: Registry;
let server: FastifyInstance;

function idleApp(): StreamsApplication {
  const builder = new TopologyBuilder();
  builder.stream('api_test_in', { key: Serdes.string, value: Serdes.string }).to('api_test_out');
  return new StreamsApplication(builder.build(), {
    applicationId: 'api-test',
    transport: new MemoryTransport(),
  });
}

function summary(tenantId: string, userId: string, start: number, eventCount: number): SessionSummary {
  return {
    tenantId,
    userId,
    start,
    end: start + 120_000,
    durationMs: 120_000,
    eventCount,
    countsByType: { pageview: eventCount - 1, api_error: 1 },
    errorCount: 1,
    distinctPages: 2,
    lastPath: '/checkout',
  };
}

const openSessions = new Map([
  ['acme/u1', summary('acme', 'u1', now - 60_000, 4)],
  // the store still holds it, the history has it already: it is closed
  ['globex/g1', summary('globex', 'g1', now - 3_600_000, 30)],
]);

function get(url: string, key?: string, header: 'bearer' | 'x-api-key' = 'bearer') {
  const headers: Record<string, string> =
    key === undefined ? {} : header === 'bearer' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key };
  return server.inject({ method: 'GET', url, headers });
}

function batch(body: object | string, key = 'acme-key') {
  return server.inject({
    method: 'POST',
    url: '/v1/features/batch',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function expectJsonError(response: LightMyRequestResponse, status: number, code: string): { error: string } {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/application\/json/);
  const body = response.json() as { error: string; code: string };
  expect(body.code).toBe(code);
  expect(body.error.length).toBeGreaterThan(0);
  return body;
}

beforeAll(async () => {
  redis = await connectTestRedis();
  registry = new Registry();
  const features = new RedisFeatureStore({ redis, registry, keyPrefix: prefix });
  const sessionHistory = new RedisSessionHistory({ redis, registry, keyPrefix: prefix });
  const updates: FeatureUpdate[] = [
    {
      view: 'user_activity',
      entity: 'acme/u1',
      tenantId: 'acme',
      values: { events_1h: 12, errors_1h: 3 },
      eventTime: now - 1_000,
    },
    {
      view: 'user_activity',
      entity: 'globex/g1',
      tenantId: 'globex',
      values: { events_1h: 777, errors_1h: 0 },
      eventTime: now - 2_000,
    },
    {
      view: 'endpoint_health',
      entity: endpoint,
      tenantId: 'acme',
      values: { requests_5m: 40, p99_latency_ms: 250 },
      eventTime: now - 3_000,
    },
    {
      view: 'tenant_usage',
      entity: 'acme',
      tenantId: 'acme',
      values: { active_users_1h: 2, events_1h: 15 },
      eventTime: now - 1_000,
    },
    {
      view: 'tenant_usage',
      entity: 'globex',
      tenantId: 'globex',
      values: { active_users_1h: 1, events_1h: 777 },
      eventTime: now - 2_000,
    },
  ];
  await features.write(updates);
  await sessionHistory.append([
    summary('acme', 'u1', now - 7_200_000, 10),
    summary('acme', 'u1', now - 3_600_000, 20),
    summary('globex', 'g1', now - 3_600_000, 30),
  ]);
  server = await buildApiServer({
    registry,
    app: idleApp(),
    logger,
    features,
    sessionHistory,
    openSession: async (tenantId, userId) => openSessions.get(`${tenantId}/${userId}`) ?? null,
    apiKeys,
  });
});

afterAll(async () => {
  await server?.close();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('GET /v1/features/:view/:entity', () => {
  it('answers the values, event_time and age_ms of the tenant’s own entity', async () => {
    const response = await get('/v1/features/user_activity/acme%2Fu1', 'acme-key');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      view: 'user_activity',
      entity: 'acme/u1',
      values: { events_1h: 12, errors_1h: 3 },
      event_time: now - 1_000,
    });
    expect(body.age_ms).toBeGreaterThanOrEqual(1_000);
  });

  it('accepts x-api-key and entities with spaces and slashes, URL-encoded', async () => {
    const response = await get(
      `/v1/features/endpoint_health/${encodeURIComponent(endpoint)}`,
      'acme-key',
      'x-api-key',
    );
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      entity: endpoint,
      values: { requests_5m: 40, p99_latency_ms: 250 },
    });
  });

  it('answers 404 with a message for an entity without features', async () => {
    const body = expectJsonError(
      await get('/v1/features/user_activity/acme%2Fnobody', 'acme-key'),
      404,
      'VEROAI_ERR_NOT_FOUND',
    );
    expect(body.error).toBe("no features of view 'user_activity' for entity 'acme/nobody'");
  });

  it('answers another tenant’s existing entity exactly like a missing one, without its data', async () => {
    for (const [view, entity] of [
      ['user_activity', 'globex/g1'],
      ['tenant_usage', 'globex'],
    ] as const) {
      const probe = await get(`/v1/features/${view}/${encodeURIComponent(entity)}`, 'acme-key');
      const missing = await get(
        `/v1/features/${view}/${encodeURIComponent(`${entity}-missing`)}`,
        'globex-key',
      );
      expectJsonError(probe, 404, 'VEROAI_ERR_NOT_FOUND');
      expect(probe.body).not.toMatch(GLOBEX_ONLY_VALUE);
      expect(probe.json()).toEqual({
        ...missing.json(),
        error: missing.json().error.replace(`${entity}-missing`, entity),
      });
    }
    // the globex key does see it
    expect((await get('/v1/features/user_activity/globex%2Fg1', 'globex-key')).json().values.events_1h).toBe(
      777,
    );
  });

  it('lets the admin key read every tenant', async () => {
    expect((await get('/v1/features/user_activity/globex%2Fg1', 'admin-key')).statusCode).toBe(200);
    expect((await get('/v1/features/tenant_usage/acme', 'admin-key')).json().values.events_1h).toBe(15);
  });

  it('serves a long URL-encoded entity, and answers 400 beyond 512 characters', async () => {
    const long = `acme/GET /v1/${'segment/'.repeat(40)}`;
    const missing = await get(`/v1/features/endpoint_health/${encodeURIComponent(long)}`, 'acme-key');
    expectJsonError(missing, 404, 'VEROAI_ERR_NOT_FOUND');
    const tooLong = await get(`/v1/features/endpoint_health/acme%2F${'x'.repeat(600)}`, 'acme-key');
    expect(expectJsonError(tooLong, 400, 'VEROAI_ERR_BAD_REQUEST').error).toContain(
      'params.entity must NOT have more than 512 characters',
    );
  });

  it('answers 400 naming the known views for an unknown view', async () => {
    const body = expectJsonError(
      await get('/v1/features/user_mood/acme%2Fu1', 'acme-key'),
      400,
      'VEROAI_ERR_BAD_REQUEST',
    );
    expect(body.error).toContain('params.view');
    expect(body.error).toContain('user_activity, endpoint_health, tenant_usage');
  });
});

describe('POST /v1/features/batch', () => {
  it('answers every (entity, view) in order from one Redis round trip', async () => {
    const pipelineSpy = vi.spyOn(redis, 'pipeline');
    const response = await batch({
      entities: ['acme/u1', 'acme', 'acme/nobody'],
      views: ['user_activity', 'tenant_usage'],
    });
    expect(pipelineSpy).toHaveBeenCalledTimes(1);
    pipelineSpy.mockRestore();
    expect(response.statusCode).toBe(200);
    const { results } = response.json() as {
      results: Array<{ view: string; entity: string; found: boolean; values?: object }>;
    };
    expect(results.map((r) => [r.entity, r.view, r.found])).toEqual([
      ['acme/u1', 'user_activity', true],
      ['acme/u1', 'tenant_usage', false],
      ['acme', 'user_activity', false],
      ['acme', 'tenant_usage', true],
      ['acme/nobody', 'user_activity', false],
      ['acme/nobody', 'tenant_usage', false],
    ]);
    expect(results[0]).toMatchObject({ values: { events_1h: 12 }, event_time: now - 1_000 });
    expect(results[3]).toMatchObject({ values: { active_users_1h: 2, events_1h: 15 } });
  });

  it('answers another tenant’s entities as not found, never with their values', async () => {
    const response = await batch({
      entities: ['globex/g1', 'globex', 'acme/u1'],
      views: ['user_activity', 'tenant_usage'],
    });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toMatch(GLOBEX_ONLY_VALUE);
    const { results } = response.json() as { results: Array<{ entity: string; found: boolean }> };
    expect(results.filter((r) => r.found).map((r) => r.entity)).toEqual(['acme/u1']);
    expect(results.find((r) => r.entity === 'globex/g1')).toEqual({
      view: 'user_activity',
      entity: 'globex/g1',
      found: false,
    });
  });

  it('lets the admin key read every tenant in one batch', async () => {
    const response = await batch(
      { entities: ['globex/g1', 'acme/u1'], views: ['user_activity'] },
      'admin-key',
    );
    expect((response.json() as { results: Array<{ found: boolean }> }).results.map((r) => r.found)).toEqual([
      true,
      true,
    ]);
  });

  it.each([
    ['a missing field', { views: ['user_activity'] }, "must have required property 'entities'"],
    [
      'an unknown view',
      { views: ['nope'], entities: ['acme/u1'] },
      'user_activity, endpoint_health, tenant_usage',
    ],
    [
      'no entities',
      { views: ['user_activity'], entities: [] },
      'body.entities must NOT have fewer than 1 items',
    ],
    [
      'too many entities',
      { views: ['user_activity'], entities: Array.from({ length: 101 }, (_, i) => `acme/u${i}`) },
      'must NOT have more than 100 items',
    ],
    ['an empty entity', { views: ['user_activity'], entities: [''] }, 'body.entities.0'],
    [
      'an extra field',
      { views: ['user_activity'], entities: ['acme/u1'], tenant: 'globex' },
      'must NOT have additional properties',
    ],
    ['a body that is not JSON', '{"views": [', 'JSON'],
  ])('answers 400 with a message for %s', async (_case, body, message) => {
    const error = expectJsonError(await batch(body), 400, 'VEROAI_ERR_BAD_REQUEST');
    expect(error.error).toContain(message);
  });
  it('answers 413 with a message for a body over 128 KiB', async () => {
    const huge = { views: ['user_activity'], entities: [`acme/${'x'.repeat(140_000)}`] };
    const error = expectJsonError(await batch(huge), 413, 'VEROAI_ERR_BAD_REQUEST');
    expect(error.error).toMatch(/body/i);
  });
});

describe('GET /v1/sessions/:tenant/:user', () => {
  it('answers the open session and the closed ones, newest first', async () => {
    const response = await get('/v1/sessions/acme/u1', 'acme-key');
    expect(response.statusCode).toBe(200);
    const body = response.json() as { open: SessionSummary | null; closed: SessionSummary[] };
    expect(body.open).toEqual(openSessions.get('acme/u1'));
    expect(body.closed).toEqual([
      summary('acme', 'u1', now - 3_600_000, 20),
      summary('acme', 'u1', now - 7_200_000, 10),
    ]);
  });

  it('answers open: null when the only session in the store is already in the history', async () => {
    const body = (await get('/v1/sessions/globex/g1', 'globex-key')).json();
    expect(body.open).toBeNull();
    expect(body.closed).toHaveLength(1);
  });

  it('answers another tenant’s user exactly like a user without sessions', async () => {
    const probe = await get('/v1/sessions/globex/g1', 'acme-key');
    const missing = await get('/v1/sessions/globex/nobody', 'globex-key');
    expectJsonError(probe, 404, 'VEROAI_ERR_NOT_FOUND');
    expect(probe.body).not.toContain('checkout');
    expect(probe.json()).toEqual({ ...missing.json(), error: missing.json().error.replace('nobody', 'g1') });
    expect((await get('/v1/sessions/acme/u1', 'globex-key')).statusCode).toBe(404);
  });

  it('answers 400 with a message for a user name over 256 characters', async () => {
    const error = expectJsonError(
      await get(`/v1/sessions/acme/${'u'.repeat(300)}`, 'acme-key'),
      400,
      'VEROAI_ERR_BAD_REQUEST',
    );
    expect(error.error).toContain('params.user must NOT have more than 256 characters');
  });

  it('lets the admin key read every tenant', async () => {
    expect((await get('/v1/sessions/globex/g1', 'admin-key')).json().closed[0].eventCount).toBe(30);
  });
});

describe('authentication', () => {
  it.each([['/v1/features/user_activity/acme%2Fu1'], ['/v1/sessions/acme/u1']])(
    'answers 401 with a message on %s without a key, with an unknown key, or a malformed header',
    async (url) => {
      const missing = expectJsonError(await get(url), 401, 'VEROAI_ERR_UNAUTHORIZED');
      expect(missing).toEqual({
        error: 'missing API key',
        code: 'VEROAI_ERR_UNAUTHORIZED',
        hint: "send 'authorization: Bearer <key>' or 'x-api-key: <key>'",
      });
      expect(expectJsonError(await get(url, 'stolen-key'), 401, 'VEROAI_ERR_UNAUTHORIZED').error).toBe(
        'unknown API key',
      );
      const basic = await server.inject({
        method: 'GET',
        url,
        headers: { authorization: 'Basic YWNtZS1rZXk6' },
      });
      expectJsonError(basic, 401, 'VEROAI_ERR_UNAUTHORIZED');
      expect(basic.headers['www-authenticate']).toBe('Bearer');
    },
  );

  it('answers 401 on the batch route without a key, before looking at the body', async () => {
    const response = await server.inject({
      method: 'POST',
      url: '/v1/features/batch',
      payload: { views: ['user_activity'], entities: ['acme/u1'] },
    });
    expectJsonError(response, 401, 'VEROAI_ERR_UNAUTHORIZED');
  });

  it('leaves /metrics, /health/live and /docs open', async () => {
    expect((await get('/health/live')).statusCode).toBe(200);
    expect((await get('/metrics')).statusCode).toBe(200);
    expect((await get('/docs/json')).statusCode).toBe(200);
  });

  it('parses API_KEYS and names the bad entry without echoing any key', () => {
    expect([...parseApiKeys('k1:acme,root:*')]).toEqual([
      ['k1', 'acme'],
      ['root', '*'],
    ]);
    expect(() => parseApiKeys('k1:acme,secret-without-tenant')).toThrow(
      /API_KEYS: entry 2 of 2 is not 'key:tenant'/,
    );
    expect(() => parseApiKeys('k1:acme,secret-without-tenant')).not.toThrow(/secret/);
    expect(() => parseApiKeys('k1:acme,k1:globex')).toThrow(/entry 2 of 2 repeats a key/);
    expect(() => parseApiKeys(' , ')).toThrow(/API_KEYS: no key given/);
  });
});

describe('the server', () => {
  it('serves the OpenAPI document and its UI at /docs', async () => {
    const ui = await get('/docs');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    const document = (await get('/docs/json')).json();
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/v1/features/{view}/{entity}',
        '/v1/features/batch',
        '/v1/sessions/{tenant}/{user}',
      ]),
    );
    expect(Object.keys(document.components.securitySchemes)).toEqual(['bearer', 'apiKey']);
    const responses = document.paths['/v1/features/{view}/{entity}'].get.responses;
    expect(responses['404'].description).toBe('not found, or not of your tenant');
    expect(Object.keys(responses)).toEqual(['200', '400', '401', '404', '503']);
  });

  it('times requests by route pattern, method and status, never by raw URL', async () => {
    await get('/v1/features/user_activity/acme%2Fu1', 'acme-key');
    await get('/v1/no/such/route');
    const metrics = await registry.metrics();
    expect(metrics).toMatch(
      /veroai_api_request_seconds_count\{route="\/v1\/features\/:view\/:entity",method="GET",status_code="200"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /veroai_api_request_seconds_count\{route="unmatched",method="GET",status_code="404"\} [1-9]/,
    );
    expect(metrics).not.toContain('acme%2Fu1');
    expect(metrics).not.toContain('/v1/no/such/route');
  });

  it('answers 503 with a message, and counts the error, when Redis is unreachable', async () => {
    const lost = await connectRedis(redisUrl);
    const lostRegistry = new Registry();
    const unavailable = await buildApiServer({
      registry: lostRegistry,
      app: idleApp(),
      logger,
      features: new RedisFeatureStore({ redis: lost, registry: lostRegistry, keyPrefix: prefix }),
      apiKeys,
    });
    lost.disconnect();
    try {
      const response = await unavailable.inject({
        method: 'GET',
        url: '/v1/features/user_activity/acme%2Fu1',
        headers: { authorization: 'Bearer acme-key' },
      });
      expectJsonError(response, 503, 'VEROAI_ERR_UNAVAILABLE');
      expect(await lostRegistry.metrics()).toMatch(/veroai_redis_errors_total\{operation="feature_read"\} 1/);
    } finally {
      await unavailable.close();
    }
  });

  it('refuses to serve data without API keys, and keeps the operations-only server working', async () => {
    const features = new RedisFeatureStore({ redis, registry: new Registry(), keyPrefix: prefix });
    await expect(
      buildApiServer({ registry: new Registry(), app: idleApp(), logger, features }),
    ).rejects.toThrow(/set API_KEYS=key:tenant/);
    const operationsOnly = await buildApiServer({ registry: new Registry(), app: idleApp(), logger });
    try {
      expect((await operationsOnly.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
      const response = await operationsOnly.inject({ method: 'GET', url: '/v1/sessions/acme/u1' });
      expectJsonError(response, 404, 'VEROAI_ERR_NOT_FOUND');
    } finally {
      await operationsOnly.close();
    }
  });
});

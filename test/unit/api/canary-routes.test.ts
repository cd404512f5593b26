/**
 * `/v1/canary/rollouts` over a memory decision store and a recording command
 * publisher (fastify inject): tenant isolation, the 4xx answers and their
 * messages, the 202 publications, the Argo/Flagger shapes; and the transport
 * publisher writing commands where the gate reads them.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../../api/auth.js';
import { buildApiServer } from '../../../api/server.js';
import { TransportCanaryCommandPublisher } from '../../../cli/canary-command-publisher.js';
import { type CanaryCommand, canaryCommandSerde, rolloutKeyOf } from '../../../schemas/index.js';
import { MemoryCanaryDecisions } from '../../../sinks/memory/memory-sinks.js';
import { MemoryTransport, partitionForKey } from '../../../topology/index.js';
import { CANARY_T0, canaryDecision } from '../../support/canary-decision.js';
import { idleApp } from '../../support/idle-app.js';
import { readMemoryTopic } from '../../support/memory-topic.js';
import { RecordingPublisher } from '../../support/recording-publisher.js';

const logger = pino({ level: 'silent' });
const apiKeys = parseApiKeys('acme-key:acme, globex-key:globex, admin-key:*');
const T0 = CANARY_T0;

const decisions = new MemoryCanaryDecisions();
const publisher = new RecordingPublisher<CanaryCommand>();
let server: FastifyInstance;

beforeAll(async () => {
  const app = idleApp('canary-api-test');
  server = await buildApiServer({
    registry: app.registry,
    app,
    logger,
    apiKeys,
    canaryDecisions: decisions,
    canaryCommands: publisher,
  });
  await decisions.write([
    canaryDecision('acme-checkout-1', { decidedAt: T0 + 2_000 }),
    canaryDecision('acme-search-1', {
      service: 'search',
      status: 'promoted',
      verdict: 'promote',
      score: 96,
      summary: 'canary is no worse than baseline',
      decidedAt: T0 + 1_000,
    }),
    canaryDecision('globex-cart-1', {
      tenantId: 'globex',
      service: 'cart',
      status: 'rolled_back',
      verdict: 'rollback',
      score: 8,
      summary: 'errors: canary rate exceeds baseline',
      decidedAt: T0 + 3_000,
    }),
  ]);
});

afterAll(async () => {
  await server.close();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });

function get(url: string, key?: string) {
  return server.inject({ method: 'GET', url, headers: key === undefined ? {} : as(key) });
}

function post(url: string, key: string, body?: object | string) {
  return server.inject({
    method: 'POST',
    url,
    headers: { ...as(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

function expectError(response: LightMyRequestResponse, status: number, code: string, message?: RegExp) {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json() as { error: string; code: string; hint?: string };
  expect(body.code).toBe(code);
  if (message !== undefined) expect(body.error).toMatch(message);
  return body;
}

describe('GET /v1/canary/rollouts/:id', () => {
  it('answers the latest decision with ok, the parsed evidence and snake_case fields', async () => {
    const response = await get('/v1/canary/rollouts/acme-search-1', 'acme-key');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      rollout_id: 'acme-search-1',
      tenant_id: 'acme',
      service: 'search',
      canary_version: 'v2',
      baseline_version: 'v1',
      stable_version: 'v1',
      status: 'promoted',
      verdict: 'promote',
      ok: true,
      score: 96,
      summary: 'canary is no worse than baseline',
      decided_at: T0 + 1_000,
      windows_judged: 2,
      evidence: {
        reasons: ['latency: too few samples yet'],
        tests: [{ name: 'mann-whitney', pValue: 0.41 }],
      },
    });
    const held = (await get('/v1/canary/rollouts/acme-checkout-1', 'acme-key')).json();
    expect(held).toMatchObject({ verdict: 'hold', ok: false, status: 'running' });
  });

  it("answers another tenant's rollout exactly as an unknown one (404), and the admin key sees both", async () => {
    const foreign = await get('/v1/canary/rollouts/globex-cart-1', 'acme-key');
    const unknown = await get('/v1/canary/rollouts/no-such-rollout', 'acme-key');
    const a = expectError(foreign, 404, 'VEROAI_ERR_NOT_FOUND', /no canary rollout 'globex-cart-1'/);
    const b = expectError(unknown, 404, 'VEROAI_ERR_NOT_FOUND');
    expect(a.hint).toBe(b.hint);
    // the same answer but for the id asked: nothing tells that the rollout exists
    expect(foreign.body.replaceAll('globex-cart-1', 'ID')).toBe(
      unknown.body.replaceAll('no-such-rollout', 'ID'),
    );

    expect((await get('/v1/canary/rollouts/globex-cart-1', 'globex-key')).json()).toMatchObject({
      tenant_id: 'globex',
      verdict: 'rollback',
      ok: false,
    });
    for (const id of ['globex-cart-1', 'acme-checkout-1'])
      expect((await get(`/v1/canary/rollouts/${id}`, 'admin-key')).statusCode).toBe(200);
  });

  it('needs an API key', async () => {
    expectError(await get('/v1/canary/rollouts/acme-checkout-1'), 401, 'VEROAI_ERR_UNAUTHORIZED');
    expectError(await get('/v1/canary/rollouts/acme-checkout-1', 'nope'), 401, 'VEROAI_ERR_UNAUTHORIZED');
  });
});

describe('GET /v1/canary/rollouts/:id/gate', () => {
  it('answers 200 when the verdict is the one asked and 409 with the actual verdict otherwise', async () => {
    const passed = await get('/v1/canary/rollouts/acme-search-1/gate?verdict=promote', 'acme-key');
    expect(passed.statusCode).toBe(200);
    expect(passed.json()).toEqual({
      rollout_id: 'acme-search-1',
      verdict: 'promote',
      status: 'promoted',
      score: 96,
    });

    const held = await get('/v1/canary/rollouts/acme-checkout-1/gate?verdict=promote', 'acme-key');
    const body = expectError(held, 409, 'VEROAI_ERR_CONFLICT', /has verdict 'hold'.*not 'promote'/);
    expect(body.hint).toMatch(/next window/);
    expectError(
      await get('/v1/canary/rollouts/globex-cart-1/gate?verdict=rollback', 'acme-key'),
      404,
      'VEROAI_ERR_NOT_FOUND',
    );
    expectError(
      await get('/v1/canary/rollouts/acme-search-1/gate?verdict=maybe', 'acme-key'),
      400,
      'VEROAI_ERR_BAD_REQUEST',
      /querystring\.verdict.*promote, hold, rollback/,
    );
    expectError(
      await get('/v1/canary/rollouts/acme-search-1/gate', 'acme-key'),
      400,
      'VEROAI_ERR_BAD_REQUEST',
      /verdict/,
    );
  });
});

describe('GET /v1/canary/rollouts', () => {
  it("lists the caller's rollouts newest first, every tenant's for the admin key, without evidence", async () => {
    const acme = (await get('/v1/canary/rollouts', 'acme-key')).json() as {
      rollouts: Array<Record<string, unknown>>;
    };
    expect(acme.rollouts.map((r) => r['rollout_id'])).toEqual(['acme-checkout-1', 'acme-search-1']);
    expect(acme.rollouts[0]).not.toHaveProperty('evidence');
    expect(acme.rollouts[1]).toMatchObject({ ok: true, verdict: 'promote' });

    const globex = (await get('/v1/canary/rollouts', 'globex-key')).json() as { rollouts: unknown[] };
    expect(globex.rollouts).toHaveLength(1);
    const all = (await get('/v1/canary/rollouts?limit=2', 'admin-key')).json() as {
      rollouts: Array<{ rollout_id: string }>;
    };
    expect(all.rollouts.map((r) => r.rollout_id)).toEqual(['globex-cart-1', 'acme-checkout-1']);
  });

  it('refuses a limit out of range with a message naming it', async () => {
    for (const limit of ['0', '101', 'ten'])
      expectError(
        await get(`/v1/canary/rollouts?limit=${limit}`, 'acme-key'),
        400,
        'VEROAI_ERR_BAD_REQUEST',
        /querystring\.limit/,
      );
  });
});

describe('POST /v1/canary/rollouts', () => {
  it("publishes a start command keyed tenantId/service for the key's tenant and answers 202 with its rollout id", async () => {
    publisher.published.length = 0;
    const before = Date.now();
    const response = await post('/v1/canary/rollouts', 'acme-key', {
      service: 'checkout',
      canary_version: 'v3',
      baseline_version: 'v2',
      stable_version: 'v2',
      rollout_id: 'checkout-v3',
    });
    expect(response.statusCode, response.body).toBe(202);
    const accepted = response.json() as { rollout_id: string; command_id: string };
    expect(accepted.rollout_id).toBe('checkout-v3');
    expect(publisher.published).toHaveLength(1);
    const command = publisher.published[0]!;
    expect(command).toMatchObject({
      commandId: accepted.command_id,
      kind: 'start',
      rolloutId: 'checkout-v3',
      tenantId: 'acme',
      service: 'checkout',
      canaryVersion: 'v3',
      baselineVersion: 'v2',
      stableVersion: 'v2',
      issuedBy: 'api (key of tenant acme)',
      reason: null,
    });
    expect(command.issuedAt).toBeGreaterThanOrEqual(before);
    expect(rolloutKeyOf(command.tenantId, command.service)).toBe('acme/checkout');
    expect(JSON.stringify(command)).not.toContain('acme-key');
  });

  it('makes up a readable rollout id when none is given; the admin key names the tenant', async () => {
    publisher.published.length = 0;
    const response = await post('/v1/canary/rollouts', 'admin-key', {
      service: 'cart',
      canary_version: '2.0.0+build.7',
      baseline_version: '1.9.0',
      tenant_id: 'globex',
    });
    expect(response.statusCode, response.body).toBe(202);
    const { rollout_id } = response.json() as { rollout_id: string };
    expect(rollout_id).toMatch(/^cart-2\.0\.0-build\.7-[0-9a-f]{8}$/);
    expect(publisher.published[0]).toMatchObject({
      rolloutId: rollout_id,
      tenantId: 'globex',
      stableVersion: null,
      issuedBy: 'api (admin key)',
    });
  });

  it("refuses another tenant's rollout (403) and an admin start without tenant (400), publishing nothing", async () => {
    publisher.published.length = 0;
    const start = { service: 'cart', canary_version: 'v2', baseline_version: 'v1' };
    expectError(
      await post('/v1/canary/rollouts', 'acme-key', { ...start, tenant_id: 'globex' }),
      403,
      'VEROAI_ERR_FORBIDDEN',
      /tenant 'acme' only, not of tenant 'globex'/,
    );
    expectError(
      await post('/v1/canary/rollouts', 'admin-key', start),
      400,
      'VEROAI_ERR_BAD_REQUEST',
      /tenant_id is required with an admin key/,
    );
    expect(publisher.published).toEqual([]);
  });

  it('refuses malformed bodies with a message naming the field', async () => {
    const cases: Array<[object | string, RegExp]> = [
      [{ canary_version: 'v2', baseline_version: 'v1' }, /body must have required property 'service'/],
      [{ service: 'a', canary_version: '', baseline_version: 'v1' }, /body\.canary_version/],
      [{ service: 'a/b', canary_version: 'v2', baseline_version: 'v1' }, /body\.service must match pattern/],
      [
        { service: 'a', canary_version: 'v2', baseline_version: 'v1', rollout_id: 'has space' },
        /body\.rollout_id/,
      ],
      [{ service: 'a', canary_version: 'v2', baseline_version: 'v1', weight: 5 }, /additional properties/],
      [{ service: 'a', canary_version: 'v1', baseline_version: 'v1' }, /both 'v1'/],
      ['{"service": ', /JSON/i],
    ];
    publisher.published.length = 0;
    for (const [body, message] of cases)
      expectError(
        await post('/v1/canary/rollouts', 'acme-key', body),
        400,
        'VEROAI_ERR_BAD_REQUEST',
        message,
      );
    expect(publisher.published).toEqual([]);
  });

  it('answers 503 when the command cannot be published, and says nothing was started', async () => {
    publisher.down = true;
    try {
      const body = expectError(
        await post('/v1/canary/rollouts', 'acme-key', {
          service: 'a',
          canary_version: 'v2',
          baseline_version: 'v1',
        }),
        503,
        'VEROAI_ERR_UNAVAILABLE',
        /Kafka is unavailable/,
      );
      expect(body.hint).toMatch(/nothing was started/);
    } finally {
      publisher.down = false;
    }
  });
});

describe('POST /v1/canary/rollouts/:id/abort and /promote', () => {
  it("publishes the command with the rollout's tenant and service from its latest decision", async () => {
    publisher.published.length = 0;
    const aborted = await post('/v1/canary/rollouts/acme-checkout-1/abort', 'acme-key', {
      reason: 'pager went off',
    });
    expect(aborted.statusCode, aborted.body).toBe(202);
    const promoted = await post('/v1/canary/rollouts/acme-checkout-1/promote', 'admin-key');
    expect(promoted.statusCode, promoted.body).toBe(202);
    expect(publisher.published).toMatchObject([
      {
        kind: 'abort',
        rolloutId: 'acme-checkout-1',
        tenantId: 'acme',
        service: 'checkout',
        reason: 'pager went off',
      },
      { kind: 'promote', rolloutId: 'acme-checkout-1', tenantId: 'acme', service: 'checkout', reason: null },
    ]);
  });

  it("answers another tenant's or an unknown rollout 404, an ended one 409, publishing nothing", async () => {
    publisher.published.length = 0;
    expectError(
      await post('/v1/canary/rollouts/globex-cart-1/abort', 'acme-key'),
      404,
      'VEROAI_ERR_NOT_FOUND',
    );
    expectError(await post('/v1/canary/rollouts/nope/promote', 'acme-key'), 404, 'VEROAI_ERR_NOT_FOUND');
    expectError(
      await post('/v1/canary/rollouts/acme-search-1/abort', 'acme-key'),
      409,
      'VEROAI_ERR_CONFLICT',
      /has ended \(promoted\): there is nothing to abort/,
    );
    expectError(
      await post('/v1/canary/rollouts/acme-checkout-1/abort', 'acme-key', { why: 'x' }),
      400,
      'VEROAI_ERR_BAD_REQUEST',
    );
    expect(publisher.published).toEqual([]);
  });
});

describe('OpenAPI', () => {
  it('documents every canary route with its responses', async () => {
    const doc = (await server.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown>; tags: string[] }>>;
    };
    const paths = Object.keys(doc.paths).filter((p) => p.startsWith('/v1/canary'));
    expect(paths.sort()).toEqual([
      '/v1/canary/rollouts/',
      '/v1/canary/rollouts/{id}',
      '/v1/canary/rollouts/{id}/abort',
      '/v1/canary/rollouts/{id}/gate',
      '/v1/canary/rollouts/{id}/promote',
    ]);
    expect(Object.keys(doc.paths['/v1/canary/rollouts/{id}']!['get']!.responses)).toEqual(
      expect.arrayContaining(['200', '401', '404', '503']),
    );
    expect(Object.keys(doc.paths['/v1/canary/rollouts/']!['post']!.responses)).toEqual(
      expect.arrayContaining(['202', '400', '403']),
    );
  });
});

describe('buildApiServer', () => {
  it('refuses canary commands without the decisions they are checked against', async () => {
    const app = idleApp('canary-api-test');
    await expect(
      buildApiServer({ registry: app.registry, app, logger, apiKeys, canaryCommands: publisher }),
    ).rejects.toMatchObject({ code: 'VEROAI_ERR_CONFIG' });
  });
});

describe('TransportCanaryCommandPublisher', () => {
  it('writes Avro commands keyed tenantId/service to the partition of that key, stamped with their time', async () => {
    const transport = new MemoryTransport();
    await transport.ensureTopics([{ name: 'canary_commands', partitions: 4 }]);
    const serde = canaryCommandSerde();
    const commandsOut = new TransportCanaryCommandPublisher({ transport, serde });
    const command = (service: string, issuedAt: number): CanaryCommand => ({
      commandId: `c-${service}`,
      kind: 'start',
      rolloutId: `${service}-v2`,
      tenantId: 'acme',
      service,
      canaryVersion: 'v2',
      baselineVersion: 'v1',
      stableVersion: null,
      issuedAt,
      issuedBy: 'test',
      reason: null,
    });
    const sent = ['checkout', 'search', 'cart', 'payments', 'auth'].map((s, i) => command(s, T0 + i));
    for (const c of sent) await commandsOut.publish(c);
    await commandsOut.close();

    const read = await readMemoryTopic(transport, 'canary_commands', 4, serde);
    expect(read).toHaveLength(sent.length);
    for (const c of sent) {
      const key = rolloutKeyOf(c.tenantId, c.service);
      const record = read.find((r) => r.key === key);
      expect(record).toMatchObject({
        partition: partitionForKey(Buffer.from(key), 4, () => 0),
        value: c,
        timestamp: c.issuedAt,
      });
    }
    expect(new Set(read.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('names the missing topic, and opens again once it exists', async () => {
    const transport = new MemoryTransport();
    const commandsOut = new TransportCanaryCommandPublisher({ transport, serde: canaryCommandSerde() });
    const start: CanaryCommand = {
      commandId: 'c1',
      kind: 'start',
      rolloutId: 'r1',
      tenantId: 'acme',
      service: 'checkout',
      canaryVersion: 'v2',
      baselineVersion: 'v1',
      stableVersion: null,
      issuedAt: T0,
      issuedBy: null,
      reason: null,
    };
    await expect(commandsOut.publish(start)).rejects.toMatchObject({
      code: 'VEROAI_ERR_TOPOLOGY',
      message: expect.stringContaining("topic 'canary_commands' does not exist"),
    });
    await transport.ensureTopics([{ name: 'canary_commands', partitions: 1 }]);
    await commandsOut.publish(start);
    expect(await transport.endOffsets('canary_commands')).toEqual([1]);
    await commandsOut.close();
    await expect(commandsOut.publish(start)).rejects.toMatchObject({ code: 'VEROAI_ERR_UNAVAILABLE' });
  });
});

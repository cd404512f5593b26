/**
 * `/v1/incidents` over a memory incident store and a recording command
 * publisher (fastify inject): tenant isolation (IP incidents the admin's
 * only), the 4xx answers and their messages, the close's 202 and its
 * command; and the transport publisher writing closes where the incident
 * processor reads them.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../../api/auth.js';
import { parseSince } from '../../../api/routes/incidents.js';
import { buildApiServer } from '../../../api/server.js';
import { TransportIncidentCommandPublisher } from '../../../cli/incident-command-publisher.js';
import { type IncidentCommand, incidentCommandSerde } from '../../../schemas/index.js';
import { MemorySecurityIncidents } from '../../../sinks/memory/memory-sinks.js';
import { MemoryTransport, partitionForKey } from '../../../topology/index.js';
import { idleApp } from '../../support/idle-app.js';
import { readMemoryTopic } from '../../support/memory-topic.js';
import { RecordingPublisher } from '../../support/recording-publisher.js';
import {
  INCIDENT_T0,
  ipEntity,
  securityIncident,
  tenantEntity,
  userEntity,
} from '../../support/security-incident.js';

const logger = pino({ level: 'silent' });
const apiKeys = parseApiKeys('acme-key:acme, globex-key:globex, admin-key:*');
const T0 = INCIDENT_T0;
const MINUTE = 60_000;

const incidents = new MemorySecurityIncidents();
const publisher = new RecordingPublisher<IncidentCommand>();
let server: FastifyInstance;

const acmeOpen = securityIncident(userEntity('acme', 'alice'), { detectedAfterMs: 1 * MINUTE });
const acmeStorm = securityIncident(
  tenantEntity('acme'),
  { kind: 'error_storm', detectedAfterMs: 3 * MINUTE },
  {
    severity: 'medium',
    status: 'auto_resolved',
    updatedAt: T0 + 9 * MINUTE,
    resolvedAt: T0 + 9 * MINUTE,
    resolution: 'error rate back to baseline for 30 minutes',
    topFeatures: [{ name: 'error_rate', value: 0.31, baseline: null, score: 0.88 }],
    summary: 'errors at 31%',
  },
);
const globexOpen = securityIncident(userEntity('globex', 'bob'), { detectedAfterMs: 2 * MINUTE });
const ipScraping = securityIncident(
  ipEntity('203.0.113.7'),
  { kind: 'scraping', detectedAfterMs: 4 * MINUTE },
  {
    status: 'escalated',
    updatedAt: T0 + 6 * MINUTE,
    remediation: {
      commandId: 'rc-1',
      action: 'block_ip',
      status: 'applied',
      issuedAt: T0 + 5 * MINUTE,
      expiresAt: T0 + 65 * MINUTE,
    },
  },
);

beforeAll(async () => {
  const app = idleApp('incidents-api-test');
  server = await buildApiServer({
    registry: app.registry,
    app,
    logger,
    apiKeys,
    incidents,
    incidentCommands: publisher,
  });
  for (const incident of [acmeOpen, acmeStorm, globexOpen, ipScraping]) await incidents.write(incident);
  await incidents.setTriageNote(acmeOpen.incidentId, 'password spray from one ASN');
});

afterAll(async () => {
  await server.close();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });

function get(url: string, key?: string) {
  return server.inject({ method: 'GET', url, headers: key === undefined ? {} : as(key) });
}

function post(url: string, key: string | undefined, body?: object | string) {
  return server.inject({
    method: 'POST',
    url,
    headers: {
      ...(key === undefined ? {} : as(key)),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
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

const listed = async (url: string, key: string) => {
  const response = await get(url, key);
  expect(response.statusCode, response.body).toBe(200);
  return (response.json() as { incidents: Array<{ incident_id: string }> }).incidents.map(
    (i) => i.incident_id,
  );
};

const url = (id: string) => `/v1/incidents/${encodeURIComponent(id)}`;

describe('GET /v1/incidents/:id', () => {
  it('answers the incident in snake_case, times as ISO 8601, with its remediation and triage note', async () => {
    const response = await get(url(acmeOpen.incidentId), 'acme-key');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({
      incident_id: acmeOpen.incidentId,
      kind: 'credential_stuffing',
      entity_kind: 'user',
      entity_id: 'alice',
      tenant_id: 'acme',
      severity: 'high',
      status: 'open',
      confidence: 0.97,
      first_seen_at: new Date(acmeOpen.firstSeenAt).toISOString(),
      detected_at: new Date(acmeOpen.detectedAt).toISOString(),
      updated_at: new Date(acmeOpen.updatedAt).toISOString(),
      resolved_at: null,
      resolution: null,
      anomalous_windows: 2,
      top_features: [{ name: 'login_failures', value: 412, baseline: 3.5, score: 0.99 }],
      sample_event_ids: ['evt-1', 'evt-2'],
      summary: '412 failed logins in 5 minutes (usually 3.5)',
      remediation: null,
      triage_note: 'password spray from one ASN',
    });

    const ip = (await get(url(ipScraping.incidentId), 'admin-key')).json();
    expect(ip).toMatchObject({
      tenant_id: null,
      entity_kind: 'ip',
      entity_id: '203.0.113.7',
      status: 'escalated',
      triage_note: null,
      remediation: {
        command_id: 'rc-1',
        action: 'block_ip',
        status: 'applied',
        issued_at: new Date(T0 + 5 * MINUTE).toISOString(),
        expires_at: new Date(T0 + 65 * MINUTE).toISOString(),
      },
    });
    const storm = (await get(url(acmeStorm.incidentId), 'acme-key')).json();
    expect(storm).toMatchObject({
      resolved_at: new Date(T0 + 9 * MINUTE).toISOString(),
      top_features: [{ name: 'error_rate', baseline: null }],
    });
  });

  it("answers another tenant's incident and an IP incident to a tenant key exactly as an unknown one (404)", async () => {
    const unknownId = securityIncident(userEntity('acme', 'nobody')).incidentId;
    const unknown = await get(url(unknownId), 'acme-key');
    const b = expectError(unknown, 404, 'VEROAI_ERR_NOT_FOUND', /no incident/);
    for (const [id, key] of [
      [globexOpen.incidentId, 'acme-key'],
      [acmeOpen.incidentId, 'globex-key'],
      [ipScraping.incidentId, 'acme-key'],
      [ipScraping.incidentId, 'globex-key'],
    ] as const) {
      const foreign = await get(url(id), key);
      const a = expectError(foreign, 404, 'VEROAI_ERR_NOT_FOUND');
      expect(a.hint).toBe(b.hint);
      // the same answer but for the id asked: nothing tells that the incident exists
      expect(foreign.body.replaceAll(id, 'ID')).toBe(unknown.body.replaceAll(unknownId, 'ID'));
    }
    for (const id of [globexOpen.incidentId, acmeOpen.incidentId, ipScraping.incidentId])
      expect((await get(url(id), 'admin-key')).statusCode).toBe(200);
    expect((await get(url(globexOpen.incidentId), 'globex-key')).statusCode).toBe(200);
  });

  it('answers a malformed id with 400 naming the expected form', async () => {
    for (const id of [
      'not-an-incident',
      'dXNlci9hY21lL2FsaWNl.phishing.1700000060000',
      'dXNlci9hY21lL2FsaWNl.credential_stuffing.soon',
      `${Buffer.from('printer/42').toString('base64url')}.scraping.1`,
    ])
      expectError(
        await get(url(id), 'acme-key'),
        400,
        'VEROAI_ERR_BAD_REQUEST',
        /params\.id '.*' is not an incident id: expected <base64url\(entity key\)>\.<kind>\.<detectedAt>/,
      );
  });

  it('answers 401 without a key or with an unknown one', async () => {
    expectError(await get(url(acmeOpen.incidentId)), 401, 'VEROAI_ERR_UNAUTHORIZED', /missing API key/);
    expectError(await get('/v1/incidents'), 401, 'VEROAI_ERR_UNAUTHORIZED');
    expectError(await get('/v1/incidents', 'stolen-key'), 401, 'VEROAI_ERR_UNAUTHORIZED', /unknown API key/);
    expectError(await post(`${url(acmeOpen.incidentId)}/close`, undefined), 401, 'VEROAI_ERR_UNAUTHORIZED');
  });
});

describe('GET /v1/incidents', () => {
  it("lists a tenant's incidents newest detected first, never another tenant's nor an IP incident", async () => {
    expect(await listed('/v1/incidents', 'acme-key')).toEqual([acmeStorm.incidentId, acmeOpen.incidentId]);
    expect(await listed('/v1/incidents', 'globex-key')).toEqual([globexOpen.incidentId]);
    const all = await listed('/v1/incidents', 'admin-key');
    expect(all).toEqual([
      ipScraping.incidentId,
      acmeStorm.incidentId,
      globexOpen.incidentId,
      acmeOpen.incidentId,
    ]);
    const body = (await get('/v1/incidents?limit=1', 'admin-key')).json();
    expect(body.incidents).toHaveLength(1);
    expect(body.incidents[0]).toMatchObject({ incident_id: ipScraping.incidentId, tenant_id: null });
    // every listed incident has its full shape, triage note included
    const acme = (await get('/v1/incidents', 'acme-key')).json().incidents;
    expect(acme[1]).toEqual((await get(url(acmeOpen.incidentId), 'acme-key')).json());
  });

  it('filters by status, kind and since (ISO 8601 or epoch ms)', async () => {
    expect(await listed('/v1/incidents?status=open', 'admin-key')).toEqual([
      globexOpen.incidentId,
      acmeOpen.incidentId,
    ]);
    expect(await listed('/v1/incidents?status=auto_resolved', 'acme-key')).toEqual([acmeStorm.incidentId]);
    expect(await listed('/v1/incidents?status=escalated', 'acme-key')).toEqual([]);
    expect(await listed('/v1/incidents?kind=scraping', 'admin-key')).toEqual([ipScraping.incidentId]);
    expect(await listed('/v1/incidents?kind=scraping', 'acme-key')).toEqual([]);
    const since = T0 + 2 * MINUTE;
    expect(await listed(`/v1/incidents?since=${since}`, 'admin-key')).toEqual([
      ipScraping.incidentId,
      acmeStorm.incidentId,
      globexOpen.incidentId,
    ]);
    for (const iso of [
      new Date(since).toISOString(),
      '2023-11-14T22:15:20Z',
      '2023-11-14T22:15:20',
      '2023-11-14T23:15:20%2B01:00',
      '2023-11-14T23:15:20+01:00', // an unencoded '+' arrives as a space
    ])
      expect(await listed(`/v1/incidents?since=${iso}`, 'admin-key'), iso).toEqual([
        ipScraping.incidentId,
        acmeStorm.incidentId,
        globexOpen.incidentId,
      ]);
    expect(await listed(`/v1/incidents?since=${since + 1}&status=open`, 'admin-key')).toEqual([]);
    expect(await listed('/v1/incidents?since=2023-11-14&kind=credential_stuffing', 'acme-key')).toEqual([
      acmeOpen.incidentId,
    ]);
  });

  it('answers a bad query with 400 naming the parameter and what it accepts', async () => {
    const cases: Array<[string, RegExp]> = [
      [
        'status=pending',
        /querystring\.status must be equal to one of the allowed values: open, auto_resolved, escalated, closed/,
      ],
      [
        'kind=phishing',
        /querystring\.kind must be equal to one of the allowed values: credential_stuffing, scraping/,
      ],
      ['since=yesterday', /querystring\.since 'yesterday' must be ISO 8601 .* or epoch milliseconds/],
      ['since=2023-02-30', /querystring\.since '2023-02-30' must be ISO 8601/],
      ['since=-5', /querystring\.since '-5' must be/],
      ['since=', /querystring\.since must NOT have fewer than 1 characters/],
      ['limit=0', /querystring\.limit must be >= 1/],
      ['limit=101', /querystring\.limit must be <= 100/],
      ['limit=many', /querystring\.limit must be integer/],
      ['tenant=globex', /querystring must NOT have additional properties/],
    ];
    for (const [query, message] of cases)
      expectError(await get(`/v1/incidents?${query}`, 'acme-key'), 400, 'VEROAI_ERR_BAD_REQUEST', message);
  });
});

describe('POST /v1/incidents/:id/close', () => {
  it('publishes a close with the actor, the reason and its time, and answers 202 closing', async () => {
    publisher.published.length = 0;
    const before = Date.now();
    const response = await post(`${url(acmeOpen.incidentId)}/close`, 'acme-key', {
      reason: 'a pen test we ordered',
    });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toEqual({ incident_id: acmeOpen.incidentId, status: 'closing' });
    expect(publisher.published).toEqual([
      {
        incidentId: acmeOpen.incidentId,
        action: 'close',
        actor: 'api (key of tenant acme)',
        reason: 'a pen test we ordered',
        issuedAt: expect.any(Number),
      },
    ]);
    expect(publisher.published[0]!.issuedAt).toBeGreaterThanOrEqual(before);

    // without a body; an escalated IP incident by the admin
    expect((await post(`${url(ipScraping.incidentId)}/close`, 'admin-key')).statusCode).toBe(202);
    expect(publisher.published[1]).toMatchObject({
      incidentId: ipScraping.incidentId,
      actor: 'api (admin key)',
      reason: null,
    });
    // the route does not change the incident: the incident processor does, from the command
    expect((await get(url(acmeOpen.incidentId), 'acme-key')).json().status).toBe('open');
  });

  it("answers 404 for another tenant's incident and for an IP incident to a tenant key, publishing nothing", async () => {
    publisher.published.length = 0;
    for (const [id, key] of [
      [globexOpen.incidentId, 'acme-key'],
      [ipScraping.incidentId, 'acme-key'],
      [acmeOpen.incidentId, 'globex-key'],
      [securityIncident(userEntity('acme', 'nobody')).incidentId, 'acme-key'],
    ] as const)
      expectError(await post(`${url(id)}/close`, key, {}), 404, 'VEROAI_ERR_NOT_FOUND', /no incident/);
    expectError(await post('/v1/incidents/garbage/close', 'acme-key'), 400, 'VEROAI_ERR_BAD_REQUEST');
    expect(publisher.published).toEqual([]);
  });

  it('answers 409 when the incident is already closed or resolved', async () => {
    publisher.published.length = 0;
    expectError(
      await post(`${url(acmeStorm.incidentId)}/close`, 'acme-key'),
      409,
      'VEROAI_ERR_CONFLICT',
      /incident '.*' is already resolved \(auto_resolved\): there is nothing to close/,
    );
    const closed = securityIncident(
      userEntity('globex', 'carol'),
      { detectedAfterMs: 5 * MINUTE },
      { status: 'closed', resolvedAt: T0 + 6 * MINUTE, updatedAt: T0 + 6 * MINUTE },
    );
    await incidents.write(closed);
    expectError(
      await post(`${url(closed.incidentId)}/close`, 'globex-key'),
      409,
      'VEROAI_ERR_CONFLICT',
      /already closed/,
    );
    expect(publisher.published).toEqual([]);
  });

  it('answers 400 for a bad body', async () => {
    const close = `${url(acmeOpen.incidentId)}/close`;
    expectError(
      await post(close, 'acme-key', { reason: 'x'.repeat(501) }),
      400,
      'VEROAI_ERR_BAD_REQUEST',
      /body\.reason must NOT have more than 500 characters/,
    );
    expectError(
      await post(close, 'acme-key', { reason: 'ok', force: true }),
      400,
      'VEROAI_ERR_BAD_REQUEST',
      /body must NOT have additional properties/,
    );
    expectError(await post(close, 'acme-key', '{not json'), 400, 'VEROAI_ERR_BAD_REQUEST');
  });

  it('answers 503 with the catalogue error when the command cannot be published now', async () => {
    publisher.down = true;
    try {
      const body = expectError(
        await post(`${url(acmeOpen.incidentId)}/close`, 'acme-key'),
        503,
        'VEROAI_ERR_UNAVAILABLE',
        /could not be published: Kafka is unavailable/,
      );
      expect(body.hint).toMatch(/retry/);
    } finally {
      publisher.down = false;
    }
  });
});

describe('the incident routes in the server', () => {
  it('serve no close without a publisher, and take a publisher only with a reader', async () => {
    const app = idleApp('incidents-api-readonly');
    const readOnly = await buildApiServer({ registry: app.registry, app, logger, apiKeys, incidents });
    try {
      const found = await readOnly.inject({
        method: 'GET',
        url: url(acmeOpen.incidentId),
        headers: as('acme-key'),
      });
      expect(found.statusCode).toBe(200);
      const response = await readOnly.inject({
        method: 'POST',
        url: `${url(acmeOpen.incidentId)}/close`,
        headers: as('acme-key'),
      });
      expectError(response, 404, 'VEROAI_ERR_NOT_FOUND', /no route POST/);
    } finally {
      await readOnly.close();
    }
    await expect(
      buildApiServer({ registry: app.registry, app, logger, apiKeys, incidentCommands: publisher }),
    ).rejects.toMatchObject({ code: 'VEROAI_ERR_CONFIG' });
    await expect(buildApiServer({ registry: app.registry, app, logger, incidents })).rejects.toMatchObject({
      code: 'VEROAI_ERR_CONFIG',
    });
  });

  it('documents the routes and the incident schema in the OpenAPI document', async () => {
    const doc = (await get('/docs/json')).json() as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/incidents/', '/v1/incidents/{id}', '/v1/incidents/{id}/close']),
    );
    expect(Object.keys(doc.components.schemas.SecurityIncident!.properties)).toContain('triage_note');
  });
});

describe('parseSince', () => {
  it('reads ISO 8601 (no offset = UTC) and epoch ms, and nothing else', () => {
    expect(parseSince('1700000000000')).toBe(1_700_000_000_000);
    expect(parseSince('2023-11-14T22:13:20Z')).toBe(1_700_000_000_000);
    expect(parseSince('2023-11-14T22:13:20.000Z')).toBe(1_700_000_000_000);
    expect(parseSince('2023-11-14T22:13:20')).toBe(1_700_000_000_000);
    expect(parseSince('2023-11-15T00:13:20+02:00')).toBe(1_700_000_000_000);
    expect(parseSince('2023-11-15T00:13:20 02:00')).toBe(1_700_000_000_000);
    expect(parseSince('2023-11-14')).toBe(Date.UTC(2023, 10, 14));
    for (const bad of ['', 'now', '2023-13-01', '2023-02-29', '1.5', '-1', '2023-11-14T25:00:00Z'])
      expect(parseSince(bad), bad).toBeUndefined();
  });
});

describe('TransportIncidentCommandPublisher', () => {
  it('writes Avro commands keyed by incidentId to the partition of that key, stamped with their time', async () => {
    const transport = new MemoryTransport();
    await transport.ensureTopics([{ name: 'incident_commands', partitions: 4 }]);
    const serde = incidentCommandSerde();
    const commandsOut = new TransportIncidentCommandPublisher({ transport, serde });
    const sent: IncidentCommand[] = ['a', 'b', 'c', 'd', 'e', 'f'].map((user, i) => ({
      incidentId: securityIncident(userEntity('acme', user)).incidentId,
      action: 'close',
      actor: 'api (admin key)',
      reason: i % 2 === 0 ? null : 'false positive',
      issuedAt: T0 + i,
    }));
    for (const c of sent) await commandsOut.publish(c);
    await commandsOut.close();

    const read = await readMemoryTopic(transport, 'incident_commands', 4, serde);
    expect(read).toHaveLength(sent.length);
    for (const c of sent)
      expect(read.find((r) => r.key === c.incidentId)).toEqual({
        partition: partitionForKey(Buffer.from(c.incidentId), 4, () => 0),
        key: c.incidentId,
        value: c,
        timestamp: c.issuedAt,
      });
    expect(new Set(read.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('names the missing topic, and refuses once closed', async () => {
    const transport = new MemoryTransport();
    const commandsOut = new TransportIncidentCommandPublisher({ transport, serde: incidentCommandSerde() });
    const close: IncidentCommand = {
      incidentId: acmeOpen.incidentId,
      action: 'close',
      actor: 'api (admin key)',
      reason: null,
      issuedAt: T0,
    };
    await expect(commandsOut.publish(close)).rejects.toMatchObject({
      code: 'VEROAI_ERR_TOPOLOGY',
      message: expect.stringContaining("incident commands: topic 'incident_commands' does not exist"),
    });
    await transport.ensureTopics([{ name: 'incident_commands', partitions: 1 }]);
    await commandsOut.publish(close);
    expect(await transport.endOffsets('incident_commands')).toEqual([1]);
    await commandsOut.close();
    await expect(commandsOut.publish(close)).rejects.toMatchObject({ code: 'VEROAI_ERR_UNAVAILABLE' });
  });
});

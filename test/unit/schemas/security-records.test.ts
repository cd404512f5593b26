import { describe, expect, it } from 'vitest';
import {
  type AnomalyScore,
  anomalyScoreSerde,
  entityKeyOf,
  entityOfKey,
  type IncidentCommand,
  incidentCommandSerde,
  incidentIdOf,
  parseIncidentId,
  type RemediationCommand,
  type RemediationResult,
  remediationCommandSerde,
  remediationResultSerde,
  type SecurityIncident,
  securityIncidentSerde,
} from '../../../schemas/index.js';
import type { Serde } from '../../../topology/index.js';

const score: AnomalyScore = {
  entityKind: 'ip',
  entityId: '203.0.113.9',
  tenantId: null,
  windowStart: 1_700_000_000_000,
  windowEnd: 1_700_000_030_000,
  score: 0.97,
  multivariateScore: 0.91,
  features: [{ name: 'auth_failures', value: 42, baseline: 0.5, score: 0.99 }],
  sampleEventIds: ['e1', 'e2'],
};

const incident: SecurityIncident = {
  incidentId: incidentIdOf('ip/203.0.113.9', 'credential_stuffing', 1_700_000_030_000),
  kind: 'credential_stuffing',
  entityKind: 'ip',
  entityId: '203.0.113.9',
  tenantId: null,
  severity: 'critical',
  status: 'open',
  confidence: 0.97,
  firstSeenAt: 1_700_000_000_000,
  detectedAt: 1_700_000_030_000,
  updatedAt: 1_700_000_030_000,
  resolvedAt: null,
  resolution: null,
  anomalousWindows: 1,
  topFeatures: score.features,
  sampleEventIds: ['e1'],
  summary: '42 auth failures across 17 users from 203.0.113.9',
  remediation: {
    commandId: 'x/block_ip',
    action: 'block_ip',
    status: 'pending',
    issuedAt: 1_700_000_030_000,
    expiresAt: 1_700_003_630_000,
  },
};

describe('security records', () => {
  it('round-trip through their Avro serdes', () => {
    const command: RemediationCommand = {
      commandId: `${incident.incidentId}/block_ip`,
      incidentId: incident.incidentId,
      action: 'block_ip',
      target: '203.0.113.9',
      tenantId: null,
      issuedAt: 1,
      expiresAt: 2,
      ttlMs: 1,
      dryRun: false,
      reason: 'r',
    };
    const result: RemediationResult = {
      commandId: command.commandId,
      incidentId: incident.incidentId,
      status: 'applied',
      at: 3,
      message: null,
    };
    const close: IncidentCommand = {
      incidentId: incident.incidentId,
      action: 'close',
      actor: 'soc',
      reason: 'false positive',
      issuedAt: 4,
    };
    // biome-ignore lint/suspicious/noExplicitAny: one list of serdes of different types
    const cases: [unknown, Serde<any>][] = [
      [score, anomalyScoreSerde()],
      [incident, securityIncidentSerde()],
      [
        { ...incident, remediation: null, tenantId: 'acme', resolvedAt: 9, resolution: 'x' },
        securityIncidentSerde(),
      ],
      [command, remediationCommandSerde()],
      [result, remediationResultSerde()],
      [close, incidentCommandSerde()],
    ];
    for (const [value, serde] of cases)
      expect(serde.deserialize(serde.serialize(value, 't') as Buffer, 't')).toEqual(value);
  });

  it('entity keys and incident ids name their entity, and reject other strings', () => {
    for (const entity of [
      { kind: 'tenant', id: 'acme', tenantId: 'acme' },
      { kind: 'user', id: 'u/1 with slash', tenantId: 'acme' },
      { kind: 'ip', id: '2001:db8::1', tenantId: null },
    ] as const) {
      const key = entityKeyOf(entity);
      expect(entityOfKey(key)).toEqual(entity);
      const id = incidentIdOf(key, 'scraping', 123);
      expect(id).toMatch(/^[A-Za-z0-9_.-]+$/);
      expect(parseIncidentId(id)).toEqual({ entityKey: key, kind: 'scraping', detectedAt: 123 });
    }
    for (const bad of [
      '',
      'x',
      'a.b',
      'aXA.scraping.1',
      'aXAvMQ.unknown.1',
      'aXAvMQ.scraping.x',
      'a b.scraping.1',
    ])
      expect(parseIncidentId(bad)).toBeUndefined();
    for (const bad of ['tenant/', 'user/acme', 'user/acme/', 'host/x', '/x'])
      expect(entityOfKey(bad)).toBeUndefined();
  });
});

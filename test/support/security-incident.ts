import {
  type EntityRef,
  entityKeyOf,
  type IncidentKind,
  incidentIdOf,
  type SecurityIncident,
} from '../../schemas/index.js';

/** The event time the incident fixtures start at. */
export const INCIDENT_T0 = 1_700_000_000_000;

export const userEntity = (tenantId: string, userId: string): EntityRef => ({
  kind: 'user',
  id: userId,
  tenantId,
});
export const tenantEntity = (tenantId: string): EntityRef => ({ kind: 'tenant', id: tenantId, tenantId });
export const ipEntity = (address: string): EntityRef => ({ kind: 'ip', id: address, tenantId: null });

/**
 * An open incident of `entity` (a credential-stuffing burst detected at
 * INCIDENT_T0 + `detectedAfterMs`), with an id made as the incident processor
 * makes it and the fields given replaced: for the incident stores' and the
 * API's tests.
 */
export function securityIncident(
  entity: EntityRef,
  options: { kind?: IncidentKind; detectedAfterMs?: number } = {},
  overrides: Partial<Omit<SecurityIncident, 'incidentId' | 'kind' | 'detectedAt'>> = {},
): SecurityIncident {
  const kind = options.kind ?? 'credential_stuffing';
  const detectedAt = INCIDENT_T0 + (options.detectedAfterMs ?? 0);
  return {
    incidentId: incidentIdOf(entityKeyOf(entity), kind, detectedAt),
    kind,
    entityKind: entity.kind,
    entityId: entity.id,
    tenantId: entity.tenantId,
    severity: 'high',
    status: 'open',
    confidence: 0.97,
    firstSeenAt: detectedAt - 300_000,
    detectedAt,
    updatedAt: detectedAt,
    resolvedAt: null,
    resolution: null,
    anomalousWindows: 2,
    topFeatures: [{ name: 'login_failures', value: 412, baseline: 3.5, score: 0.99 }],
    sampleEventIds: ['evt-1', 'evt-2'],
    summary: '412 failed logins in 5 minutes (usually 3.5)',
    remediation: null,
    ...overrides,
  };
}

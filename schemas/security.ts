/**
 * Security operations' records (schemas/anomaly_score.avsc,
 * security_incident.avsc, remediation_command.avsc, remediation_result.avsc,
 * incident_command.avsc): the contract between processors/anomaly (which
 * scores behaviour), processors/incidents (which opens, remediates and
 * resolves incidents), the enforcers that apply remediations, and api/
 * (which serves incidents and takes a person's close).
 */

export const ENTITY_KINDS = ['tenant', 'user', 'ip'] as const;
/** What a behaviour window is about: a tenant, a user of a tenant, or a client IP (across tenants). */
export type EntityKind = (typeof ENTITY_KINDS)[number];

/** One behavioural feature of a window, scored against the entity's baseline. */
export interface FeatureScore {
  readonly name: string;
  readonly value: number;
  /** The entity's usual value at this hour of day; null while its baseline warms up. */
  readonly baseline: number | null;
  /** In [0, 1], one-sided: only a value above the baseline scores. */
  readonly score: number;
}

/** The value of `anomaly_scores`, keyed by the entity key (`entityKeyOf`). */
export interface AnomalyScore {
  readonly entityKind: EntityKind;
  readonly entityId: string;
  /** null for an IP. */
  readonly tenantId: string | null;
  /** Epoch ms, inclusive. */
  readonly windowStart: number;
  /** Epoch ms, exclusive. */
  readonly windowEnd: number;
  /** In [0, 1]: the larger of the top univariate score and the multivariate score. */
  readonly score: number;
  readonly multivariateScore: number;
  readonly features: FeatureScore[];
  readonly sampleEventIds: string[];
}

export const INCIDENT_KINDS = [
  'credential_stuffing',
  'scraping',
  'token_abuse',
  'error_storm',
  'latency_spike',
] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];

export const INCIDENT_STATUSES = ['open', 'auto_resolved', 'escalated', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export const REMEDIATION_ACTIONS = ['block_ip', 'revoke_user_sessions', 'rate_limit_tenant'] as const;
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];

export const INCIDENT_REMEDIATION_STATUSES = [
  'pending',
  'applied',
  'failed',
  'timed_out',
  'dry_run',
] as const;
export type IncidentRemediationStatus = (typeof INCIDENT_REMEDIATION_STATUSES)[number];

/** Where an incident's remediation stands. */
export interface IncidentRemediation {
  readonly commandId: string;
  readonly action: RemediationAction;
  readonly status: IncidentRemediationStatus;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** The value of `security_incidents`, keyed by tenantId (the IP for an IP incident). */
export interface SecurityIncident {
  readonly incidentId: string;
  readonly kind: IncidentKind;
  readonly entityKind: EntityKind;
  readonly entityId: string;
  /** null for an IP incident: only the admin key sees it. */
  readonly tenantId: string | null;
  readonly severity: IncidentSeverity;
  readonly status: IncidentStatus;
  readonly confidence: number;
  readonly firstSeenAt: number;
  readonly detectedAt: number;
  readonly updatedAt: number;
  readonly resolvedAt: number | null;
  readonly resolution: string | null;
  readonly anomalousWindows: number;
  readonly topFeatures: FeatureScore[];
  readonly sampleEventIds: string[];
  readonly summary: string;
  readonly remediation: IncidentRemediation | null;
}

/** The value of `remediation_commands`, keyed by target. */
export interface RemediationCommand {
  readonly commandId: string;
  readonly incidentId: string;
  readonly action: RemediationAction;
  readonly target: string;
  readonly tenantId: string | null;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly ttlMs: number;
  readonly dryRun: boolean;
  readonly reason: string;
}

export const REMEDIATION_RESULT_STATUSES = ['applied', 'failed'] as const;
export type RemediationResultStatus = (typeof REMEDIATION_RESULT_STATUSES)[number];

/** The value of `remediation_results`, keyed by commandId. */
export interface RemediationResult {
  readonly commandId: string;
  readonly incidentId: string;
  readonly status: RemediationResultStatus;
  readonly at: number;
  readonly message: string | null;
}

/** The value of `incident_commands`, keyed by incidentId. */
export interface IncidentCommand {
  readonly incidentId: string;
  readonly action: 'close';
  readonly actor: string;
  readonly reason: string | null;
  readonly issuedAt: number;
}

/** An entity as processors key it. */
export interface EntityRef {
  readonly kind: EntityKind;
  readonly id: string;
  /** null for an IP. */
  readonly tenantId: string | null;
}

/** `tenant/<tenantId>`, `user/<tenantId>/<userId>` or `ip/<address>`. */
export function entityKeyOf(entity: EntityRef): string {
  switch (entity.kind) {
    case 'tenant':
      return `tenant/${entity.id}`;
    case 'user':
      return `user/${entity.tenantId}/${entity.id}`;
    case 'ip':
      return `ip/${entity.id}`;
  }
}

/** The entity of a key made by `entityKeyOf` (tenant ids hold no '/'); undefined for another string. */
export function entityOfKey(key: string): EntityRef | undefined {
  const slash = key.indexOf('/');
  const kind = key.slice(0, slash);
  const rest = key.slice(slash + 1);
  if (slash <= 0 || rest.length === 0) return undefined;
  if (kind === 'tenant') return { kind, id: rest, tenantId: rest };
  if (kind === 'ip') return { kind, id: rest, tenantId: null };
  if (kind === 'user') {
    const next = rest.indexOf('/');
    if (next <= 0 || next === rest.length - 1) return undefined;
    return { kind, id: rest.slice(next + 1), tenantId: rest.slice(0, next) };
  }
  return undefined;
}

/**
 * An incident's id: `<base64url(entity key)>.<kind>.<detectedAt>`. URL-safe,
 * unique per entity, kind and opening window, and it names the entity, so a
 * result or a close keyed by it reaches the task that holds the incident.
 */
export function incidentIdOf(entityKey: string, kind: IncidentKind, detectedAt: number): string {
  return `${Buffer.from(entityKey, 'utf8').toString('base64url')}.${kind}.${detectedAt}`;
}

/** The entity key and kind an incident id names; undefined when it is not one. */
export function parseIncidentId(
  incidentId: string,
): { readonly entityKey: string; readonly kind: IncidentKind; readonly detectedAt: number } | undefined {
  const parts = incidentId.split('.');
  if (parts.length !== 3) return undefined;
  const [encoded, kind, at] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(encoded) || !/^\d+$/.test(at)) return undefined;
  if (!(INCIDENT_KINDS as readonly string[]).includes(kind)) return undefined;
  const entityKey = Buffer.from(encoded, 'base64url').toString('utf8');
  if (entityOfKey(entityKey) === undefined) return undefined;
  return { entityKey, kind: kind as IncidentKind, detectedAt: Number(at) };
}

/** A remediation command's id: `<incidentId>/<action>`. */
export const remediationCommandIdOf = (incidentId: string, action: RemediationAction): string =>
  `${incidentId}/${action}`;

/** The key of an incident on `security_incidents`: its tenant, or the IP for an IP incident. */
export const incidentTopicKeyOf = (incident: Pick<SecurityIncident, 'tenantId' | 'entityId'>): string =>
  incident.tenantId ?? incident.entityId;

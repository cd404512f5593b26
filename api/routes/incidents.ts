import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ENTITY_KINDS,
  entityOfKey,
  INCIDENT_KINDS,
  INCIDENT_REMEDIATION_STATUSES,
  INCIDENT_SEVERITIES,
  INCIDENT_STATUSES,
  type IncidentCommand,
  type IncidentKind,
  type IncidentStatus,
  parseIncidentId,
  REMEDIATION_ACTIONS,
} from '../../schemas/index.js';
import type { IncidentReader, StoredSecurityIncident } from '../../sinks/index.js';
import { VeroaiError } from '../../topology/errors.js';
import { ADMIN_TENANT, canRead, apiKeySecurity as security } from '../auth.js';
import { apiErrors, errorResponses } from '../errors.js';

/**
 * Where the API's incident commands go: `incident_commands`, keyed by
 * incidentId (cli/incident-command-publisher.ts writes them through the
 * engine's transport). Resolves once the log acknowledged the command;
 * rejects with a retriable 503 catalogue error (e.g.
 * `VEROAI_ERR_KAFKA_UNREACHABLE`) when it could not be written for now.
 */
export interface IncidentCommandPublisher {
  publish(command: IncidentCommand): Promise<void>;
}

export interface IncidentRoutesOptions {
  readonly incidents: IncidentReader;
  /** Serves `POST /:id/close` when given. */
  readonly commands?: IncidentCommandPublisher;
}

/** Most incidents one list request may ask for. */
export const MAX_LISTED_INCIDENTS = 100;
/** Longest reason a close may give. */
export const MAX_CLOSE_REASON_CHARS = 500;

const isoTime = { type: 'string', format: 'date-time' } as const;
const nullableIsoTime = { type: ['string', 'null'], format: 'date-time' } as const;

const incidentSchema = {
  $id: 'SecurityIncident',
  type: 'object',
  description: "An incident's latest state, with its evidence and triage note",
  properties: {
    incident_id: { type: 'string', description: 'URL-safe: base64url(entity key).kind.detected_at' },
    kind: { type: 'string', enum: [...INCIDENT_KINDS] },
    entity_kind: { type: 'string', enum: [...ENTITY_KINDS] },
    entity_id: { type: 'string', description: 'the tenant, the user or the client IP' },
    tenant_id: {
      type: ['string', 'null'],
      description: 'null for an IP incident, which spans tenants: only an admin key sees those',
    },
    severity: { type: 'string', enum: [...INCIDENT_SEVERITIES] },
    status: { type: 'string', enum: [...INCIDENT_STATUSES] },
    confidence: {
      type: 'number',
      description: "in [0, 1]: the highest anomaly score of the incident's windows",
    },
    first_seen_at: { ...isoTime, description: 'start of the first anomalous window (event time)' },
    detected_at: { ...isoTime, description: 'end of the window that opened the incident (event time)' },
    updated_at: { ...isoTime, description: 'event time of the latest change' },
    resolved_at: { ...nullableIsoTime, description: 'when it was auto-resolved or closed' },
    resolution: { type: ['string', 'null'], description: "why the incident left 'open', in one line" },
    anomalous_windows: { type: 'integer', description: 'windows whose signal met the rule so far' },
    top_features: {
      type: 'array',
      description: 'the features of the peak window that contributed most, highest score first',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          value: { type: 'number' },
          baseline: {
            type: ['number', 'null'],
            description: "the entity's usual value; null while it warms up",
          },
          score: { type: 'number', description: 'in [0, 1]' },
        },
        required: ['name', 'value', 'baseline', 'score'],
      },
    },
    sample_event_ids: { type: 'array', items: { type: 'string' }, description: 'at most 10' },
    summary: { type: 'string' },
    remediation: {
      type: ['object', 'null'],
      description: "where the incident's remediation stands; null when none was issued",
      properties: {
        command_id: { type: 'string' },
        action: { type: 'string', enum: [...REMEDIATION_ACTIONS] },
        status: { type: 'string', enum: [...INCIDENT_REMEDIATION_STATUSES] },
        issued_at: isoTime,
        expires_at: isoTime,
      },
      required: ['command_id', 'action', 'status', 'issued_at', 'expires_at'],
    },
    triage_note: {
      type: ['string', 'null'],
      description:
        'an advisory note written by the triage after the incident opened; null while there is none',
    },
  },
  required: [
    'incident_id',
    'kind',
    'entity_kind',
    'entity_id',
    'tenant_id',
    'severity',
    'status',
    'confidence',
    'first_seen_at',
    'detected_at',
    'updated_at',
    'resolved_at',
    'resolution',
    'anomalous_windows',
    'top_features',
    'sample_event_ids',
    'summary',
    'remediation',
    'triage_note',
  ],
} as const;

const idParams = {
  type: 'object',
  properties: {
    id: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      description: 'an incident id: <base64url(entity key)>.<kind>.<detectedAt>',
    },
  },
  required: ['id'],
} as const;

const SINCE_FORM =
  "ISO 8601 (e.g. '2024-05-01T12:00:00Z'; no offset = UTC) or epoch milliseconds (e.g. '1714564800000')";

interface ListQuery {
  readonly status?: IncidentStatus;
  readonly kind?: IncidentKind;
  readonly since?: string;
  readonly limit: number;
}

interface CloseBody {
  readonly reason?: string;
}

/** Also the answer for an incident the caller may not see: a client cannot tell the two apart. */
const incidentNotFound = (incidentId: string) =>
  new VeroaiError('VEROAI_ERR_NOT_FOUND', `no incident '${incidentId}'`, {
    hint: 'the incident has expired or been trimmed, or is not one of your tenant',
  });

const iso = (ms: number) => new Date(ms).toISOString();

function viewOf(incident: StoredSecurityIncident) {
  const remediation = incident.remediation;
  return {
    incident_id: incident.incidentId,
    kind: incident.kind,
    entity_kind: incident.entityKind,
    entity_id: incident.entityId,
    tenant_id: incident.tenantId,
    severity: incident.severity,
    status: incident.status,
    confidence: incident.confidence,
    first_seen_at: iso(incident.firstSeenAt),
    detected_at: iso(incident.detectedAt),
    updated_at: iso(incident.updatedAt),
    resolved_at: incident.resolvedAt === null ? null : iso(incident.resolvedAt),
    resolution: incident.resolution,
    anomalous_windows: incident.anomalousWindows,
    top_features: incident.topFeatures.map((f) => ({
      name: f.name,
      value: f.value,
      baseline: f.baseline,
      score: f.score,
    })),
    sample_event_ids: incident.sampleEventIds,
    summary: incident.summary,
    remediation:
      remediation === null
        ? null
        : {
            command_id: remediation.commandId,
            action: remediation.action,
            status: remediation.status,
            issued_at: iso(remediation.issuedAt),
            expires_at: iso(remediation.expiresAt),
          },
    triage_note: incident.triageNote,
  };
}

/** Whether a caller limited to `scope` may see an incident of `tenantId`: an IP incident (null) is the admin's only. */
function canSee(scope: string, tenantId: string | null): boolean {
  return tenantId === null ? scope === ADMIN_TENANT : canRead(scope, tenantId);
}

/** Who closed an incident, for the command: the key's tenant, never the key (a secret). */
function actorOf(request: FastifyRequest): string {
  return request.tenantScope === ADMIN_TENANT
    ? 'api (admin key)'
    : `api (key of tenant ${request.tenantScope})`;
}

const EPOCH_MS = /^\d{1,15}$/;
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Epoch ms of `since` in one of its two forms, or undefined. */
export function parseSince(text: string): number | undefined {
  if (EPOCH_MS.test(text)) return Number(text);
  // a '+' left unencoded in a query string arrives as a space
  const iso = ISO_8601.exec(text.replace(/ (\d{2}:?\d{2})$/, '+$1'));
  if (iso === null) return undefined;
  const [text8601, year, month, day, zone] = iso;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined;
  const hasTime = text8601.length > 10;
  const ms = Date.parse(hasTime && zone === undefined ? `${text8601}Z` : text8601);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The security incidents, `/v1/incidents`:
 * - `GET /?status=&kind=&since=&limit=`: the caller's incidents, newest
 *   detected first (every incident for an admin key, IP incidents included);
 * - `GET /:id`: one incident with its evidence and triage note;
 * - `POST /:id/close` (with `commands`): publishes a person's close to
 *   `incident_commands` and answers 202; the incident shows `closed` once
 *   the incident processor has applied it.
 * A tenant key sees only its tenant's incidents; an IP incident (no tenant)
 * spans tenants and is the admin's only. Anything else is answered as not
 * found (404), without telling whether it exists.
 */
export async function incidentRoutes(server: FastifyInstance, options: IncidentRoutesOptions): Promise<void> {
  const { incidents, commands } = options;
  server.addSchema(incidentSchema);

  /** The incident if the caller may see it; 400 for a malformed id, 404 otherwise. */
  const visible = async (request: FastifyRequest, incidentId: string): Promise<StoredSecurityIncident> => {
    const named = parseIncidentId(incidentId);
    if (named === undefined)
      throw apiErrors.badRequest(
        `params.id '${incidentId}' is not an incident id: expected <base64url(entity key)>.<kind>.<detectedAt>, e.g. the incident_id of GET /v1/incidents`,
      );
    // the id names its entity: another tenant's incident is not even read
    if (!canSee(request.tenantScope, entityOfKey(named.entityKey)?.tenantId ?? null))
      throw incidentNotFound(incidentId);
    const found = await incidents.get(incidentId);
    if (found === null || !canSee(request.tenantScope, found.tenantId)) throw incidentNotFound(incidentId);
    return found;
  };

  server.get<{ Querystring: ListQuery }>(
    '/',
    {
      schema: {
        summary: "The caller's incidents (every incident for an admin key), newest detected first",
        description:
          "A tenant key lists its tenant's incidents; an admin key lists all, including IP incidents (tenant_id null), which span tenants.",
        tags: ['incidents'],
        security,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: [...INCIDENT_STATUSES] },
            kind: { type: 'string', enum: [...INCIDENT_KINDS] },
            since: {
              type: 'string',
              minLength: 1,
              maxLength: 64,
              description: `only incidents detected at or after it: ${SINCE_FORM}`,
            },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LISTED_INCIDENTS, default: 20 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'the latest state of each incident',
            type: 'object',
            properties: { incidents: { type: 'array', items: { $ref: 'SecurityIncident#' } } },
            required: ['incidents'],
          },
          ...errorResponses(400, 401, 503),
        },
      },
    },
    async (request) => {
      const { status, kind, limit } = request.query;
      let since: number | undefined;
      if (request.query.since !== undefined) {
        since = parseSince(request.query.since);
        if (since === undefined)
          throw apiErrors.badRequest(`querystring.since '${request.query.since}' must be ${SINCE_FORM}`);
      }
      const found = await incidents.list(request.tenantScope, {
        limit,
        ...(status === undefined ? {} : { status }),
        ...(kind === undefined ? {} : { kind }),
        ...(since === undefined ? {} : { since }),
      });
      // the reader lists the scope's incidents; checked again here, as every other route checks
      return { incidents: found.filter((i) => canSee(request.tenantScope, i.tenantId)).map(viewOf) };
    },
  );

  server.get<{ Params: { id: string } }>(
    '/:id',
    {
      schema: {
        summary: 'One incident: its state, evidence, remediation and triage note',
        tags: ['incidents'],
        security,
        params: idParams,
        response: {
          200: { description: "the incident's latest state", allOf: [{ $ref: 'SecurityIncident#' }] },
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => viewOf(await visible(request, request.params.id)),
  );

  if (commands === undefined) return;

  server.post<{ Params: { id: string }; Body: CloseBody | undefined }>(
    '/:id/close',
    {
      bodyLimit: 16 * 1024,
      schema: {
        summary: 'Close an open or escalated incident by hand',
        description:
          "Publishes a close to incident_commands; the incident shows status 'closed' once the incident processor has applied it.",
        tags: ['incidents'],
        security,
        params: idParams,
        body: {
          // optional: a POST without a body is the same as {}
          type: ['object', 'null'],
          properties: {
            reason: {
              type: 'string',
              maxLength: MAX_CLOSE_REASON_CHARS,
              description: "why, kept in the incident's resolution",
            },
          },
          additionalProperties: false,
        },
        response: {
          202: {
            description: 'the close is on incident_commands',
            type: 'object',
            properties: {
              incident_id: { type: 'string' },
              status: { type: 'string', enum: ['closing'] },
            },
            required: ['incident_id', 'status'],
          },
          ...errorResponses(400, 401, 404, 409, 413, 503),
        },
      },
    },
    async (request, reply) => {
      const found = await visible(request, request.params.id);
      if (found.status === 'closed' || found.status === 'auto_resolved')
        throw apiErrors.conflict(
          `incident '${found.incidentId}' is already ${found.status === 'closed' ? 'closed' : 'resolved (auto_resolved)'}: there is nothing to close`,
          'a new anomaly of the same entity opens a new incident',
        );
      try {
        await commands.publish({
          incidentId: found.incidentId,
          action: 'close',
          actor: actorOf(request),
          reason: request.body?.reason ?? null,
          issuedAt: Date.now(),
        });
      } catch (error) {
        if (error instanceof VeroaiError && error.status === 503 && error.retriable)
          throw apiErrors.commandsUnavailable();
        throw error;
      }
      return reply.code(202).send({ incident_id: found.incidentId, status: 'closing' });
    },
  );
}

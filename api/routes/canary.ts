import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  CANARY_VERDICTS,
  type CanaryCommand,
  type CanaryCommandKind,
  type CanaryDecision,
  type CanaryVerdict,
  ROLLOUT_STATUSES,
} from '../../schemas/index.js';
import type { CanaryDecisionReader } from '../../sinks/index.js';
import { VeroaiError } from '../../topology/errors.js';
import { ADMIN_TENANT, canRead, apiKeySecurity as security } from '../auth.js';
import { apiErrors, errorResponses } from '../errors.js';

/**
 * Where the API's rollout commands go: `canary_commands`, keyed
 * `rolloutKeyOf(tenantId, service)` (cli/canary-command-publisher.ts writes
 * them through the engine's transport). Resolves once the log acknowledged
 * the command; rejects with a retriable 503 catalogue error (e.g.
 * `VEROAI_ERR_KAFKA_UNREACHABLE`) when it could not be written for now.
 */
export interface CanaryCommandPublisher {
  publish(command: CanaryCommand): Promise<void>;
}

export interface CanaryRoutesOptions {
  readonly decisions: CanaryDecisionReader;
  /** Serves the POST routes (start, abort, promote) when given. */
  readonly commands?: CanaryCommandPublisher;
}

/** Most rollouts one list request may ask for. */
export const MAX_LISTED_ROLLOUTS = 100;

const idPattern = '^[A-Za-z0-9][A-Za-z0-9._:-]*$';
const rolloutIdSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: idPattern,
  description: "letters, digits and . _ : -, e.g. 'checkout-7d9f8c'",
} as const;
/** Services and tenants are halves of the `tenantId/service` key: no slash. */
const nameSchema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^/*\\s]+$' } as const;
const versionSchema = { type: 'string', minLength: 1, maxLength: 128 } as const;

const decisionProperties = {
  rollout_id: { type: 'string' },
  tenant_id: { type: 'string' },
  service: { type: 'string' },
  canary_version: { type: 'string' },
  baseline_version: { type: 'string' },
  stable_version: { type: ['string', 'null'] },
  status: { type: 'string', enum: [...ROLLOUT_STATUSES] },
  verdict: { type: 'string', enum: [...CANARY_VERDICTS] },
  ok: {
    type: 'boolean',
    description: "verdict is 'promote' (an Argo Rollouts `successCondition: result.ok`)",
  },
  score: { type: 'number', description: '0-100, as Kayenta reports one' },
  summary: { type: 'string', description: 'the main reason, in words' },
  decided_at: { type: 'number', description: 'event time of the decision, epoch ms' },
  windows_judged: { type: 'number', description: 'window pairs (canary and baseline) judged so far' },
} as const;
const decisionRequired = Object.keys(decisionProperties);

const rolloutSchema = {
  $id: 'CanaryRollout',
  type: 'object',
  description: "A rollout's latest decision",
  properties: {
    ...decisionProperties,
    evidence: {
      type: 'object',
      additionalProperties: true,
      description:
        "each test's statistic, p-value or posterior, effect size and sample counts; the windows used",
    },
  },
  required: [...decisionRequired, 'evidence'],
} as const;

const rolloutSummarySchema = {
  $id: 'CanaryRolloutSummary',
  type: 'object',
  description: "A rollout's latest decision, without its evidence",
  properties: decisionProperties,
  required: decisionRequired,
} as const;

const acceptedSchema = {
  description: 'the command is on canary_commands; the rollout shows its effect once the gate has judged it',
  type: 'object',
  properties: {
    rollout_id: { type: 'string' },
    command_id: { type: 'string', description: "the command's id, also in the decision's evidence" },
  },
  required: ['rollout_id', 'command_id'],
} as const;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['id'],
} as const;

interface StartBody {
  readonly service: string;
  readonly canary_version: string;
  readonly baseline_version: string;
  readonly stable_version?: string;
  readonly rollout_id?: string;
  readonly tenant_id?: string;
}

interface CommandBody {
  readonly reason?: string;
}

function summaryOf(d: CanaryDecision) {
  return {
    rollout_id: d.rolloutId,
    tenant_id: d.tenantId,
    service: d.service,
    canary_version: d.canaryVersion,
    baseline_version: d.baselineVersion,
    stable_version: d.stableVersion,
    status: d.status,
    verdict: d.verdict,
    ok: d.verdict === 'promote',
    score: d.score,
    summary: d.summary,
    decided_at: d.decidedAt,
    windows_judged: d.windowsJudged,
  };
}

function evidenceOf(d: CanaryDecision): Record<string, unknown> {
  try {
    const evidence: unknown = JSON.parse(d.evidenceJson);
    if (evidence !== null && typeof evidence === 'object' && !Array.isArray(evidence))
      return evidence as Record<string, unknown>;
    return { value: evidence };
  } catch {
    // the sink refuses evidence that is not JSON; a decision stored before that check still answers
    return { unreadable: d.evidenceJson };
  }
}

/** Who issued a command, for the rollout's evidence: the key's tenant, never the key. */
function issuerOf(request: FastifyRequest): string {
  return request.tenantScope === ADMIN_TENANT
    ? 'api (admin key)'
    : `api (key of tenant ${request.tenantScope})`;
}

/** A rollout id for a start that names none: readable, unique. */
function newRolloutId(service: string, canaryVersion: string): string {
  const slug = (text: string) =>
    text
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 48);
  const parts = [slug(service), slug(canaryVersion), randomBytes(4).toString('hex')].filter((p) => p !== '');
  return parts.join('-');
}

/**
 * The canary KPI gate's resource, `/v1/canary/rollouts`:
 * - `GET /:id`: the rollout's latest decision with `ok` (verdict is promote)
 *   and its evidence. It is an Argo Rollouts `web` metric provider as is
 *   (deploy/k8s/argo/analysis-template.yaml);
 * - `GET /:id/gate?verdict=`: 200 when the rollout's verdict is the one
 *   asked, 409 otherwise: for controllers that read an HTTP status (Flagger's
 *   webhooks, deploy/k8s/flagger/canary.yaml; a CI step with `curl -f`);
 * - `GET /?limit=`: the caller's rollouts (every tenant's for an admin key);
 * - `POST /`, `POST /:id/abort`, `POST /:id/promote` (with `commands`):
 *   publish a command to `canary_commands` and answer 202.
 * A caller sees and commands only its tenant's rollouts: another tenant's is
 * answered as not found (404), without telling whether it exists.
 */
export async function canaryRoutes(server: FastifyInstance, options: CanaryRoutesOptions): Promise<void> {
  const { decisions, commands } = options;
  server.addSchema(rolloutSchema);
  server.addSchema(rolloutSummarySchema);

  /** The rollout's latest decision if the caller may see it; 404 otherwise. */
  const readable = async (request: FastifyRequest, rolloutId: string): Promise<CanaryDecision> => {
    const found = await decisions.latest(rolloutId);
    if (found === null || !canRead(request.tenantScope, found.tenantId))
      throw apiErrors.rolloutNotFound(rolloutId);
    return found;
  };

  server.get<{ Params: { id: string } }>(
    '/:id',
    {
      schema: {
        summary: "A rollout's latest verdict, score and evidence",
        description:
          'An Argo Rollouts web metric as is: `successCondition: result.ok`, `failureCondition: result.verdict == "rollback"` ' +
          '(a hold is then Inconclusive). See deploy/k8s/argo/analysis-template.yaml.',
        tags: ['canary'],
        security,
        params: idParams,
        response: {
          200: { description: 'the latest decision', allOf: [{ $ref: 'CanaryRollout#' }] },
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const found = await readable(request, request.params.id);
      return { ...summaryOf(found), evidence: evidenceOf(found) };
    },
  );

  server.get<{ Params: { id: string }; Querystring: { verdict: CanaryVerdict } }>(
    '/:id/gate',
    {
      schema: {
        summary: "200 when the rollout's verdict is the one asked, 409 otherwise",
        description:
          'For controllers that read only an HTTP status: e.g. a Flagger confirm-promotion webhook asks ' +
          '`verdict=promote`, a rollback webhook `verdict=rollback` (deploy/k8s/flagger/canary.yaml).',
        tags: ['canary'],
        security,
        params: idParams,
        querystring: {
          type: 'object',
          properties: { verdict: { type: 'string', enum: [...CANARY_VERDICTS] } },
          required: ['verdict'],
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'the rollout has the verdict asked',
            type: 'object',
            properties: {
              rollout_id: { type: 'string' },
              verdict: decisionProperties.verdict,
              status: decisionProperties.status,
              score: decisionProperties.score,
            },
            required: ['rollout_id', 'verdict', 'status', 'score'],
          },
          ...errorResponses(400, 401, 404, 409, 503),
        },
      },
    },
    async (request) => {
      const found = await readable(request, request.params.id);
      const asked = request.query.verdict;
      if (found.verdict !== asked)
        throw apiErrors.conflict(
          `rollout '${found.rolloutId}' has verdict '${found.verdict}' (${found.summary}), not '${asked}'`,
          found.status === 'running'
            ? 'the rollout is still being judged: ask again after its next window closes'
            : `the rollout has ended (${found.status}): its verdict will not change`,
        );
      return {
        rollout_id: found.rolloutId,
        verdict: found.verdict,
        status: found.status,
        score: found.score,
      };
    },
  );

  server.get<{ Querystring: { limit: number } }>(
    '/',
    {
      schema: {
        summary: "The caller's rollouts (every tenant's for an admin key), newest decision first",
        description: 'Without evidence: GET /v1/canary/rollouts/{id} has it.',
        tags: ['canary'],
        security,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LISTED_ROLLOUTS, default: 20 } },
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'the latest decision of each rollout',
            type: 'object',
            properties: { rollouts: { type: 'array', items: { $ref: 'CanaryRolloutSummary#' } } },
            required: ['rollouts'],
          },
          ...errorResponses(400, 401, 503),
        },
      },
    },
    async (request) => {
      const found = await decisions.list(request.tenantScope, request.query.limit);
      // the reader lists the scope's rollouts; checked again here, as every other route checks
      return { rollouts: found.filter((d) => canRead(request.tenantScope, d.tenantId)).map(summaryOf) };
    },
  );

  if (commands === undefined) return;

  const publish = async (command: CanaryCommand) => {
    try {
      await commands.publish(command);
    } catch (error) {
      if (error instanceof VeroaiError && error.status === 503 && error.retriable)
        throw apiErrors.commandsUnavailable();
      throw error;
    }
    return { rollout_id: command.rolloutId, command_id: command.commandId };
  };

  server.post<{ Body: StartBody }>(
    '/',
    {
      bodyLimit: 16 * 1024,
      schema: {
        summary: 'Start a rollout: the gate judges the canary version against the baseline from now on',
        description:
          "A tenant key starts rollouts of its own tenant (tenant_id defaults to it); an admin key must give tenant_id. One rollout at a time per service: a start replaces the service's running rollout.",
        tags: ['canary'],
        security,
        body: {
          type: 'object',
          properties: {
            service: nameSchema,
            canary_version: versionSchema,
            baseline_version: versionSchema,
            stable_version: versionSchema,
            rollout_id: { ...rolloutIdSchema, description: 'default: <service>-<canary_version>-<random>' },
            tenant_id: {
              ...nameSchema,
              description: "default: the API key's tenant (required with an admin key)",
            },
          },
          required: ['service', 'canary_version', 'baseline_version'],
          additionalProperties: false,
        },
        response: { 202: acceptedSchema, ...errorResponses(400, 401, 403, 413, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const scope = request.tenantScope;
      if (scope === ADMIN_TENANT && body.tenant_id === undefined)
        throw apiErrors.badRequest(
          'body.tenant_id is required with an admin key: the tenant whose service rolls out',
        );
      const tenantId = body.tenant_id ?? scope;
      if (!canRead(scope, tenantId))
        throw apiErrors.forbidden(
          `this API key may start rollouts of tenant '${scope}' only, not of tenant '${tenantId}'`,
        );
      if (body.canary_version === body.baseline_version)
        throw apiErrors.badRequest(
          `body.canary_version and body.baseline_version are both '${body.canary_version}': a canary is judged against another version`,
        );
      const accepted = await publish({
        commandId: randomUUID(),
        kind: 'start',
        rolloutId: body.rollout_id ?? newRolloutId(body.service, body.canary_version),
        tenantId,
        service: body.service,
        canaryVersion: body.canary_version,
        baselineVersion: body.baseline_version,
        stableVersion: body.stable_version ?? null,
        issuedAt: Date.now(),
        issuedBy: issuerOf(request),
        reason: null,
      });
      return reply.code(202).send(accepted);
    },
  );

  const commandRoute = (kind: Exclude<CanaryCommandKind, 'start'>, summary: string) =>
    server.post<{ Params: { id: string }; Body: CommandBody | undefined }>(
      `/:id/${kind}`,
      {
        bodyLimit: 16 * 1024,
        schema: {
          summary,
          tags: ['canary'],
          security,
          params: idParams,
          body: {
            // optional: a POST without a body is the same as {}
            type: ['object', 'null'],
            properties: { reason: { type: 'string', maxLength: 1024, description: 'kept in the evidence' } },
            additionalProperties: false,
          },
          response: { 202: acceptedSchema, ...errorResponses(400, 401, 404, 409, 413, 503) },
        },
      },
      async (request, reply) => {
        const found = await readable(request, request.params.id);
        if (found.status !== 'running')
          throw apiErrors.conflict(
            `rollout '${found.rolloutId}' has ended (${found.status}): there is nothing to ${kind}`,
            'start a new rollout to judge another version',
          );
        const accepted = await publish({
          commandId: randomUUID(),
          kind,
          rolloutId: found.rolloutId,
          tenantId: found.tenantId,
          service: found.service,
          canaryVersion: found.canaryVersion,
          baselineVersion: found.baselineVersion,
          stableVersion: found.stableVersion,
          issuedAt: Date.now(),
          issuedBy: issuerOf(request),
          reason: request.body?.reason ?? null,
        });
        return reply.code(202).send(accepted);
      },
    );
  commandRoute('abort', 'Abort a running rollout: its verdict becomes rollback');
  commandRoute('promote', 'Promote a running rollout by hand: its verdict becomes promote');
}

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type {
  CanaryDecisionReader,
  DependencyProbe,
  FeatureReader,
  IncidentReader,
  SessionHistoryReader,
} from '../sinks/index.js';
import { ConfigError, VeroaiError } from '../topology/errors.js';
import type { StreamsApplication } from '../topology/index.js';
import { ADMIN_TENANT, type ApiKeys, apiKeyAuthentication } from './auth.js';
import { apiErrors, clientErrorOf, errorResponseSchema } from './errors.js';
import { recordRequestLatency } from './request-metrics.js';
import { type CanaryCommandPublisher, canaryRoutes } from './routes/canary.js';
import { featureRoutes } from './routes/features.js';
import { type IncidentCommandPublisher, incidentRoutes } from './routes/incidents.js';
import { operationsRoutes } from './routes/operations.js';
import { type OpenSessionLookup, sessionRoutes } from './routes/sessions.js';

export interface ApiServerOptions {
  readonly registry: Registry;
  readonly app: StreamsApplication;
  readonly logger: Logger;
  /** Serves `/v1/features/*` when given (e.g. a RedisFeatureStore). */
  readonly features?: FeatureReader;
  /** Serves the closed sessions of `/v1/sessions/*` when given (e.g. a RedisSessionHistory). */
  readonly sessionHistory?: SessionHistoryReader;
  /**
   * Serves the open session of `/v1/sessions/*` when given, e.g.
   * `(t, u) => summaryOf(app.queryStore('user-sessions', `${t}/${u}`), …)`.
   */
  readonly openSession?: OpenSessionLookup;
  /** Serves `/v1/canary/rollouts` when given (e.g. a RedisCanaryDecisions). */
  readonly canaryDecisions?: CanaryDecisionReader;
  /**
   * Serves the rollout commands (start, abort, promote) of `/v1/canary/rollouts`
   * when given with `canaryDecisions`, e.g. a TransportCanaryCommandPublisher.
   */
  readonly canaryCommands?: CanaryCommandPublisher;
  /** Serves `/v1/incidents` when given (e.g. a RedisSecurityIncidents). */
  readonly incidents?: IncidentReader;
  /**
   * Serves `POST /v1/incidents/{id}/close` when given with `incidents`,
   * e.g. a TransportIncidentCommandPublisher.
   */
  readonly incidentCommands?: IncidentCommandPublisher;
  /** API key → tenant (`*` for admin), e.g. from `parseApiKeys(API_KEYS)`. Required with any `/v1` route. */
  readonly apiKeys?: ApiKeys;
  /**
   * Backing stores readiness checks on every `/health/ready`, e.g.
   * `[redisProbe(apiRedis)]`: one down makes readiness 503, naming it.
   */
  readonly dependencies?: readonly DependencyProbe[];
}

/**
 * The query API: operations routes (`/metrics`, `/health/*`) always, open;
 * `/v1/features`, `/v1/sessions`, `/v1/canary` and `/v1/incidents` when their store is given,
 * behind API keys; the OpenAPI document at `/docs` (UI) and `/docs/json`.
 * Each resource is one plugin; route schemas validate requests and serialise responses; errors
 * are JSON `{ error, code, hint? }` from the catalogue in `errors.ts`.
 * @example const api = await buildApiServer({ registry, app, logger, features, sessionHistory, apiKeys });
 */
export async function buildApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const servesData =
    options.features !== undefined ||
    options.sessionHistory !== undefined ||
    options.openSession !== undefined ||
    options.canaryDecisions !== undefined ||
    options.incidents !== undefined;
  if (options.canaryCommands !== undefined && options.canaryDecisions === undefined) {
    throw new ConfigError(
      'the query API takes canary commands only with the canary decisions it reads rollouts from (canaryDecisions)',
    );
  }
  if (options.incidentCommands !== undefined && options.incidents === undefined) {
    throw new ConfigError(
      'the query API takes incident commands only with the incidents it reads them from (incidents)',
    );
  }
  if (servesData && (options.apiKeys === undefined || options.apiKeys.size === 0)) {
    throw new ConfigError(
      `the query API serves features, sessions, canary rollouts and incidents only behind API keys: set API_KEYS=key:tenant[,key:tenant…] (tenant '${ADMIN_TENANT}' for an admin key)`,
    );
  }
  const server: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // URL-encoded endpoint entities ('acme/GET /v1/…') outgrow the default 100; the schemas bound them
    routerOptions: { maxParamLength: 2048 },
    // an unexpected field is refused with a message rather than silently dropped
    ajv: { customOptions: { removeAdditional: false } },
  });
  server.setErrorHandler((error: FastifyError | VeroaiError, request, reply) => {
    const known = toCatalogueError(error);
    if (known.status >= 500)
      request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
    void reply.code(known.status).send({
      error: known.message,
      code: known.code,
      ...(known.hint === undefined ? {} : { hint: known.hint }),
    });
  });
  server.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: `no route ${request.method} ${request.url}`,
      code: 'VEROAI_ERR_NOT_FOUND',
      hint: 'the routes are listed at /docs',
    });
  });
  server.addSchema(errorResponseSchema);
  recordRequestLatency(server, options.registry);

  await server.register(swagger, {
    openapi: {
      info: {
        title: 'VeroAI query API',
        version: '1',
        description:
          'Online features, user sessions, canary verdicts and security incidents computed by VeroAI streams; canary rollout and incident commands.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'authorization: Bearer <API key>' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await server.register(swaggerUi, { routePrefix: '/docs' });

  await server.register(operationsRoutes, {
    registry: options.registry,
    app: options.app,
    dependencies: options.dependencies ?? [],
  });
  if (servesData) {
    const apiKeys = options.apiKeys!;
    await server.register(async (authenticated) => {
      authenticated.decorateRequest('tenantScope', '');
      authenticated.addHook('onRequest', apiKeyAuthentication(apiKeys));
      if (options.features !== undefined) {
        await authenticated.register(featureRoutes, { prefix: '/v1/features', features: options.features });
      }
      if (options.sessionHistory !== undefined || options.openSession !== undefined) {
        await authenticated.register(sessionRoutes, {
          prefix: '/v1/sessions',
          ...(options.sessionHistory === undefined ? {} : { history: options.sessionHistory }),
          ...(options.openSession === undefined ? {} : { openSession: options.openSession }),
        });
      }
      if (options.canaryDecisions !== undefined) {
        await authenticated.register(canaryRoutes, {
          prefix: '/v1/canary/rollouts',
          decisions: options.canaryDecisions,
          ...(options.canaryCommands === undefined ? {} : { commands: options.canaryCommands }),
        });
      }
      if (options.incidents !== undefined) {
        await authenticated.register(incidentRoutes, {
          prefix: '/v1/incidents',
          incidents: options.incidents,
          ...(options.incidentCommands === undefined ? {} : { commands: options.incidentCommands }),
        });
      }
    });
  }
  return server;
}

/** Any error reaching the handler, as a catalogue entry: validation → 400, store unavailable → 503. */
function toCatalogueError(error: FastifyError | VeroaiError): VeroaiError {
  if (error instanceof VeroaiError) return clientErrorOf(error);
  if (error.validation !== undefined) {
    const context = error.validationContext ?? 'request';
    const problems = error.validation.map((problem) => {
      const where = `${context}${problem.instancePath.replaceAll('/', '.')}`;
      const allowed = (problem.params as { allowedValues?: unknown[] }).allowedValues;
      return `${where} ${problem.message ?? 'is invalid'}${allowed === undefined ? '' : `: ${allowed.join(', ')}`}`;
    });
    return apiErrors.badRequest(problems.join('; '));
  }
  const status = error.statusCode ?? 500;
  return status < 500
    ? new VeroaiError('VEROAI_ERR_BAD_REQUEST', error.message, { status })
    : apiErrors.internal();
}

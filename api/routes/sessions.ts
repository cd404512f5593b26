import type { FastifyInstance } from 'fastify';
import type { SessionSummary } from '../../schemas/index.js';
import type { SessionHistoryReader } from '../../sinks/index.js';
import { apiKeySecurity, canRead } from '../auth.js';
import { apiErrors, errorResponses } from '../errors.js';

/** The open session of a user, from an interactive query on the session store; null when none. */
export type OpenSessionLookup = (tenantId: string, userId: string) => Promise<SessionSummary | null>;

export interface SessionRoutesOptions {
  /** Closed sessions; without it `closed` is always empty. */
  readonly history?: SessionHistoryReader;
  /** The open session; without it `open` is always null. */
  readonly openSession?: OpenSessionLookup;
}

const sessionSummarySchema = {
  $id: 'SessionSummary',
  type: 'object',
  properties: {
    tenantId: { type: 'string' },
    userId: { type: 'string' },
    start: { type: 'number', description: 'first event time, epoch ms' },
    end: { type: 'number', description: 'last event time, epoch ms' },
    durationMs: { type: 'number' },
    eventCount: { type: 'number' },
    countsByType: { type: 'object', additionalProperties: { type: 'number' } },
    errorCount: { type: 'number' },
    distinctPages: { type: 'number' },
    lastPath: { type: ['string', 'null'] },
  },
  required: ['tenantId', 'userId', 'start', 'end', 'durationMs', 'eventCount', 'countsByType', 'errorCount'],
} as const;

const nameSchema = { type: 'string', minLength: 1, maxLength: 256 } as const;

/**
 * `GET /:tenant/:user`: the user's open session and last closed ones. A
 * user with neither, and any user of another tenant, is answered 404.
 */
export async function sessionRoutes(server: FastifyInstance, options: SessionRoutesOptions): Promise<void> {
  const { history, openSession } = options;
  server.addSchema(sessionSummarySchema);

  server.get<{ Params: { tenant: string; user: string } }>(
    '/:tenant/:user',
    {
      schema: {
        summary: "A user's open session and last closed sessions (newest first)",
        tags: ['sessions'],
        security: apiKeySecurity,
        params: {
          type: 'object',
          properties: { tenant: nameSchema, user: nameSchema },
          required: ['tenant', 'user'],
        },
        response: {
          200: {
            description: 'the open session (or null) and the last closed ones',
            type: 'object',
            properties: {
              open: { anyOf: [{ $ref: 'SessionSummary#' }, { type: 'null' }] },
              closed: { type: 'array', items: { $ref: 'SessionSummary#' } },
            },
            required: ['open', 'closed'],
          },
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const { tenant, user } = request.params;
      if (!canRead(request.tenantScope, tenant)) throw apiErrors.sessionsNotFound(tenant, user);
      const [open, closed] = await Promise.all([
        openSession?.(tenant, user) ?? null,
        history?.recent(tenant, user) ?? [],
      ]);
      if (open === null && closed.length === 0) throw apiErrors.sessionsNotFound(tenant, user);
      // a session just closed may still be in the store and already in the history: show it once, as closed
      const stillOpen =
        open !== null && !closed.some((session) => session.start === open.start) ? open : null;
      return { open: stillOpen, closed };
    },
  );
}

import { ERROR_CATALOGUE, type ErrorCode, VeroaiError } from '../topology/errors.js';

/**
 * Every error a query API client can receive, built from the shared error
 * catalogue (topology/error-catalogue.ts), which gives each code its HTTP
 * status and default hint. Responses are `{ error: message, code, hint? }`
 * (see `errorResponseSchema`).
 */
export const apiErrors = {
  missingApiKey: () =>
    new VeroaiError('VEROAI_ERR_UNAUTHORIZED', 'missing API key', {
      hint: "send 'authorization: Bearer <key>' or 'x-api-key: <key>'",
    }),
  unknownApiKey: () =>
    new VeroaiError('VEROAI_ERR_UNAUTHORIZED', 'unknown API key', {
      hint: 'check the key, or ask an operator to add it to API_KEYS',
    }),
  /** Also the answer for another tenant's entity: a client cannot tell the two apart. */
  featuresNotFound: (view: string, entity: string) =>
    new VeroaiError('VEROAI_ERR_NOT_FOUND', `no features of view '${view}' for entity '${entity}'`, {
      hint: 'the entity has had no event within the retention period, or is not one of your tenant',
    }),
  /** Also the answer for another tenant's user. */
  sessionsNotFound: (tenantId: string, userId: string) =>
    new VeroaiError(
      'VEROAI_ERR_NOT_FOUND',
      `no open or recent session for user '${userId}' of tenant '${tenantId}'`,
      { hint: 'the user has had no event within the retention period, or is not one of your tenant' },
    ),
  /** Also the answer for another tenant's rollout: a client cannot tell the two apart. */
  rolloutNotFound: (rolloutId: string) =>
    new VeroaiError('VEROAI_ERR_NOT_FOUND', `no canary rollout '${rolloutId}'`, {
      hint: 'the rollout has had no decision yet (a start takes a moment to be judged), has expired, or is not one of your tenant',
    }),
  forbidden: (message: string) => new VeroaiError('VEROAI_ERR_FORBIDDEN', message),
  conflict: (message: string, hint?: string) =>
    new VeroaiError('VEROAI_ERR_CONFLICT', message, hint === undefined ? {} : { hint }),
  /** A command could not be written to its topic (the brokers unreachable): the client may retry. */
  commandsUnavailable: () =>
    new VeroaiError('VEROAI_ERR_UNAVAILABLE', 'the command could not be published: Kafka is unavailable', {
      hint: 'retry shortly; nothing was started or changed',
    }),
  badRequest: (message: string, status: 400 | 413 = 400) =>
    new VeroaiError('VEROAI_ERR_BAD_REQUEST', message, { status }),
  /** A backing store did not answer (down, hung, not serving): the client may retry. */
  unavailable: () =>
    new VeroaiError('VEROAI_ERR_UNAVAILABLE', 'a backing store (Redis or the session store) is unavailable'),
  internal: () => new VeroaiError('VEROAI_ERR_INTERNAL', 'internal error'),
} as const;

/**
 * Any error a route let through, as what the client gets: catalogue errors
 * that are the client's (4xx) as they are; a backing store that is
 * unavailable (a retriable 503 in the catalogue, e.g.
 * `VEROAI_ERR_SINK_UNAVAILABLE`) as `unavailable`; everything else as
 * `internal` (logged, never shown).
 */
export function clientErrorOf(error: VeroaiError): VeroaiError {
  if (error.status < 500) return error;
  // the API's own 503s (they say which store) as they are; a store's own failure as the generic one
  if (error.status === 503 && error.retriable)
    return error.code === 'VEROAI_ERR_UNAVAILABLE' ? error : apiErrors.unavailable();
  return apiErrors.internal();
}

/** The body of every error response. */
export const errorResponseSchema = {
  $id: 'Error',
  type: 'object',
  description: 'What went wrong, a stable code, and where possible what to do',
  properties: {
    error: { type: 'string', description: 'what was wrong' },
    code: { type: 'string', description: 'stable code, VEROAI_ERR_*' },
    hint: { type: 'string', description: 'what to do about it' },
  },
  required: ['error', 'code'],
} as const;

/** The catalogue code each status a route can answer stands for. */
const statusCodes: Readonly<Record<number, ErrorCode>> = {
  400: 'VEROAI_ERR_BAD_REQUEST',
  401: 'VEROAI_ERR_UNAUTHORIZED',
  403: 'VEROAI_ERR_FORBIDDEN',
  404: 'VEROAI_ERR_NOT_FOUND',
  409: 'VEROAI_ERR_CONFLICT',
  413: 'VEROAI_ERR_BAD_REQUEST',
  503: 'VEROAI_ERR_UNAVAILABLE',
};

const statusDescriptions: Readonly<Record<number, string>> = {
  413: 'body too large',
  503: 'a backing store is unavailable; retry shortly',
};

/** The error body for each status, for a route's response schema (and its OpenAPI description). */
export function errorResponses(...statuses: number[]): Record<number, object> {
  return Object.fromEntries(
    statuses.map((status) => {
      const code = statusCodes[status];
      const description =
        statusDescriptions[status] ?? (code === undefined ? 'error' : ERROR_CATALOGUE[code].meaning);
      return [status, { description, allOf: [{ $ref: 'Error#' }] }];
    }),
  );
}

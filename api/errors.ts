import { VeroaiError } from '../topology/errors.js';

/**
 * The query API's error catalogue: every error a client can receive, with its
 * stable code, HTTP status and message. Responses are
 * `{ error: message, code, hint? }` (see `errorResponseSchema`).
 */
export const apiErrors = {
  missingApiKey: () =>
    new VeroaiError('VEROAI_ERR_UNAUTHORIZED', 'missing API key', {
      status: 401,
      hint: "send 'authorization: Bearer <key>' or 'x-api-key: <key>'",
    }),
  unknownApiKey: () =>
    new VeroaiError('VEROAI_ERR_UNAUTHORIZED', 'unknown API key', {
      status: 401,
      hint: 'check the key, or ask an operator to add it to API_KEYS',
    }),
  /** Also the answer for another tenant's entity: a client cannot tell the two apart. */
  featuresNotFound: (view: string, entity: string) =>
    new VeroaiError('VEROAI_ERR_NOT_FOUND', `no features of view '${view}' for entity '${entity}'`, {
      status: 404,
      hint: 'the entity has had no event within the retention period, or is not one of your tenant',
    }),
  /** Also the answer for another tenant's user. */
  sessionsNotFound: (tenantId: string, userId: string) =>
    new VeroaiError(
      'VEROAI_ERR_NOT_FOUND',
      `no open or recent session for user '${userId}' of tenant '${tenantId}'`,
      {
        status: 404,
        hint: 'the user has had no event within the retention period, or is not one of your tenant',
      },
    ),
  badRequest: (message: string) =>
    new VeroaiError('VEROAI_ERR_BAD_REQUEST', message, {
      status: 400,
      hint: 'the request schemas are at /docs',
    }),
  unavailable: () =>
    new VeroaiError('VEROAI_ERR_UNAVAILABLE', 'a backing store (Redis or the session store) is unavailable', {
      status: 503,
      hint: 'retry shortly',
    }),
  internal: () => new VeroaiError('VEROAI_ERR_INTERNAL', 'internal error', { status: 500 }),
} as const;

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

const statusDescriptions: Readonly<Record<number, string>> = {
  400: 'malformed request: the message names the parameter or field and what was expected',
  401: 'missing or unknown API key',
  404: 'not found, or not of your tenant',
  413: 'body too large',
  503: 'a backing store is unavailable; retry shortly',
};

/** The error body for each status, for a route's response schema (and its OpenAPI description). */
export function errorResponses(...statuses: number[]): Record<number, object> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: statusDescriptions[status] ?? 'error', allOf: [{ $ref: 'Error#' }] },
    ]),
  );
}

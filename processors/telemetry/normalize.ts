import type { TelemetryEvent, TelemetryPayload } from '../../schemas/index.js';

/**
 * One spelling per fact, so that sessions and features group what is the same:
 * - identifiers are trimmed; the tenant id is lower-cased (tenant ids are slugs,
 *   `Acme` and `acme` are one tenant); user ids keep their case; an empty user id
 *   becomes null (anonymous);
 * - HTTP methods are upper-case; paths and pages lose their query string,
 *   fragment, repeated and trailing slashes, and always start with `/`;
 * - an `api_call` answered with a 5xx is an `api_error`: a failed request counts
 *   as an error wherever errors are counted, whatever the emitter called it.
 * Stateless and idempotent: normalising a normalised event changes nothing.
 */
export function normalizeTelemetryEvent(event: TelemetryEvent): TelemetryEvent {
  const userId = event.userId?.trim() || null;
  const payload = normalizePayload(event.payload);
  const failed = event.eventType === 'api_call' && (payload.statusCode ?? 0) >= 500;
  return {
    ...event,
    eventId: event.eventId.trim(),
    tenantId: event.tenantId.trim().toLowerCase(),
    userId,
    eventType: failed ? 'api_error' : event.eventType,
    payload,
  };
}

function normalizePayload(payload: TelemetryPayload): TelemetryPayload {
  return {
    ...payload,
    method: payload.method?.trim().toUpperCase() || null,
    path: normalizePath(payload.path),
    page: normalizePath(payload.page),
    element: payload.element?.trim() || null,
  };
}

/** `/v1//orders/?x=1#top` → `/v1/orders`; blank → null. */
export function normalizePath(path: string | null): string | null {
  const bare = path?.trim().replace(/[?#].*$/, '');
  if (!bare) return null;
  const collapsed = `/${bare}`.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

import type { TelemetryEvent } from '../../schemas/index.js';

/**
 * The key of a user's events, sessions and user features: `tenantId/userId`.
 * An anonymous event (no user id) is keyed by its tenant alone: it counts for
 * the tenant and its endpoints, but there is no user to give a session or user
 * features to.
 */
export function userKeyOf(event: Pick<TelemetryEvent, 'tenantId' | 'userId'>): string {
  return event.userId === null ? event.tenantId : `${event.tenantId}/${event.userId}`;
}

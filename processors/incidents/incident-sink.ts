import type { SecurityIncident } from '../../schemas/index.js';

/**
 * Where the incident processor writes each incident's state for the query
 * API to read (Redis in production). Resolves once the state is durable.
 * Delivery is at-least-once: a record may be written again, and after a
 * restart out of order; the sink keeps the newest state of each incident
 * (by `updatedAt`, then lifecycle: sinks/latest-state-order.ts), so writing
 * an older or the same record again changes nothing.
 */
export interface IncidentSink {
  write(incident: SecurityIncident): Promise<void>;
}

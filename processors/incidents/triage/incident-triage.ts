import type { SecurityIncident } from '../../../schemas/index.js';

/**
 * Writes a short triage note for one incident (a model, a rule book, a fake in
 * tests). Sees only the incident it is given. Rejects on failure; honours the
 * signal (rejects promptly once it aborts).
 */
export interface IncidentTriage {
  note(incident: SecurityIncident, signal?: AbortSignal): Promise<string>;
}

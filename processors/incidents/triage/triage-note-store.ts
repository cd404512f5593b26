/**
 * Where a triage note is kept, next to its incident (implemented in sinks/redis).
 * A note is advisory: overwriting one with a newer note is fine.
 */
export interface TriageNoteStore {
  setTriageNote(incidentId: string, note: string): Promise<void>;
}

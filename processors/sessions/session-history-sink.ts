import type { SessionSummary } from '../../schemas/index.js';

/** Where closed sessions are kept for the API (Redis in production). Writing a session twice is harmless. */
export interface SessionHistorySink {
  append(sessions: readonly SessionSummary[]): Promise<void>;
}

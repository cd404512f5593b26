/**
 * A user session as the platform sees it (schemas/user_session.avsc): the value of `user_sessions` (keyed
 * `tenantId/userId`), what the API serves for closed sessions, and (for an
 * open session) what it derives from the session store's aggregate.
 */
export interface SessionSummary {
  readonly tenantId: string;
  readonly userId: string;
  /** First and last event time of the session (epoch ms, both inclusive). */
  readonly start: number;
  readonly end: number;
  readonly durationMs: number;
  readonly eventCount: number;
  /** Events per TelemetryEvent eventType. */
  readonly countsByType: Readonly<Record<string, number>>;
  /** api_error and error events. */
  readonly errorCount: number;
  readonly distinctPages: number;
  readonly lastPath: string | null;
}

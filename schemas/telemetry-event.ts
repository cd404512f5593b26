/** The TelemetryEvent of schemas/telemetry_event.avsc, as the processors see it. */
export const TELEMETRY_EVENT_TYPES = [
  'api_call',
  'api_error',
  'click',
  'pageview',
  'error',
  'performance',
  'job',
  'ticket',
] as const;

export type TelemetryEventType = (typeof TELEMETRY_EVENT_TYPES)[number];

export interface TelemetryPayload {
  method: string | null;
  path: string | null;
  statusCode: number | null;
  latencyMs: number | null;
  page: string | null;
  element: string | null;
  errorMessage: string | null;
  jobName: string | null;
  durationMs: number | null;
  ticketId: string | null;
}

export interface TelemetryEvent {
  eventId: string;
  /** Event time, epoch milliseconds. */
  timestamp: number;
  tenantId: string;
  userId: string | null;
  eventType: TelemetryEventType;
  payload: TelemetryPayload;
  metadata: { source: string; version: string };
}

/** A payload with every field null, to spread the ones an event type uses over. */
export const EMPTY_PAYLOAD: TelemetryPayload = {
  method: null,
  path: null,
  statusCode: null,
  latencyMs: null,
  page: null,
  element: null,
  errorMessage: null,
  jobName: null,
  durationMs: null,
  ticketId: null,
};

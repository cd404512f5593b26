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

/** Which side of a rollout a service build serves (schemas/telemetry_event.avsc, `DeploymentTrack`). */
export const DEPLOYMENT_TRACKS = ['stable', 'canary', 'baseline'] as const;

export type DeploymentTrack = (typeof DEPLOYMENT_TRACKS)[number];

/** The service build that handled a request, for canary analysis. */
export interface Deployment {
  service: string;
  version: string;
  track: DeploymentTrack;
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
  /** The build that handled the request; null when the emitter does not say (and in records of schema v1). */
  deployment: Deployment | null;
  /** The client's IPv4 or IPv6 address; null when unknown. */
  clientIp: string | null;
  /** The request's User-Agent header; null when unknown. */
  userAgent: string | null;
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

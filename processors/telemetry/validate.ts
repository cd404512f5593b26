import { isIP } from 'node:net';
import {
  DEPLOYMENT_TRACKS,
  type Deployment,
  TELEMETRY_EVENT_TYPES,
  type TelemetryEvent,
} from '../../schemas/index.js';

/** A telemetry event that decoded but breaks a rule; the message is the reason in the dead-letter headers. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/**
 * How far an event's own time may be from the time its record was written to
 * the log (the Kafka record timestamp). Relative to the log, not the wall
 * clock: a replay months later gives every record the verdict it got live.
 */
export interface ValidationLimits {
  /** How far event time may be ahead of the log timestamp. Default 5 minutes (`MAX_EVENT_TIME_AHEAD_MS`). */
  readonly maxAheadMs: number;
  /** How far event time may be behind the log timestamp. Default 30 days. */
  readonly maxAgeMs: number;
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  maxAheadMs: 5 * 60_000,
  maxAgeMs: 30 * 24 * 3_600_000,
};

/**
 * The longest each identifier may be, in characters after trimming. Tenants,
 * users, methods and paths become state-store keys, Redis keys and feature
 * entities (`tenant/user`, `tenant/METHOD path`), as deployment service and
 * version become KPI-window keys (`service/version`) and client IPs and user
 * agents security-feature entities: without a bound, one client sending
 * 100 KB paths makes 100 KB keys and an entity per distinct path.
 */
export const FIELD_LIMITS = {
  tenantId: 64,
  eventId: 128,
  userId: 128,
  /** The longest standard method, WebDAV's BASELINE-CONTROL, has 16. */
  method: 16,
  path: 512,
  page: 512,
  /** `deployment.service`. */
  service: 128,
  /** `deployment.version`. */
  version: 128,
  /** The longest IPv6 text is 45 characters (`ffff:…:255.255.255.255`); the rest leaves room for a zone id. */
  clientIp: 64,
  userAgent: 512,
} as const;

const knownTypes = new Set<string>(TELEMETRY_EVENT_TYPES);
const knownTracks = new Set<string>(DEPLOYMENT_TRACKS);
const METHOD_TOKEN = /^[A-Za-z]+(-[A-Za-z]+)*$/;

/**
 * Checks an event against the platform's rules. `logTimestamp` is the
 * timestamp of the record the event arrived in (not the wall clock), so the
 * verdict depends on the log alone. Returns the event, or throws
 * InvalidEventError naming the rule it breaks (never echoing an oversized value).
 */
export function validateTelemetryEvent(
  event: TelemetryEvent,
  logTimestamp: number,
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
): TelemetryEvent {
  const tenantId = checkText('tenantId', event.tenantId, FIELD_LIMITS.tenantId);
  if (!tenantId) throw new InvalidEventError('tenantId is missing');
  // the tenant is the first segment of every entity (`tenant/user`, `tenant/METHOD path`)
  if (tenantId.includes('/'))
    throw new InvalidEventError(`tenantId '${tenantId}' contains '/', which separates entity segments`);
  if (!checkText('eventId', event.eventId, FIELD_LIMITS.eventId))
    throw new InvalidEventError('eventId is missing');
  checkText('userId', event.userId, FIELD_LIMITS.userId);
  if (!knownTypes.has(event.eventType))
    throw new InvalidEventError(
      `eventType '${String(event.eventType).slice(0, 40)}' is not one of ${TELEMETRY_EVENT_TYPES.join(', ')}`,
    );
  checkEventTime(event.timestamp, logTimestamp, limits);
  const method = checkText('payload.method', event.payload.method, FIELD_LIMITS.method);
  if (method && !METHOD_TOKEN.test(method))
    throw new InvalidEventError(
      `payload.method '${method}' is not an HTTP method: expected letters and '-', e.g. GET`,
    );
  checkText('payload.path', event.payload.path, FIELD_LIMITS.path);
  checkText('payload.page', event.payload.page, FIELD_LIMITS.page);
  if (event.eventType === 'api_call' || event.eventType === 'api_error') checkApiPayload(event);
  // absent (undefined), not only null, in events of schema v1 that reach here through a JSON serde
  if (event.deployment != null) checkDeployment(event.deployment);
  const clientIp = checkText('clientIp', event.clientIp, FIELD_LIMITS.clientIp);
  if (clientIp && isIP(clientIp) === 0)
    throw new InvalidEventError(`clientIp '${clientIp}' is not an IPv4 or IPv6 address`);
  checkText('userAgent', event.userAgent, FIELD_LIMITS.userAgent);
  return event;
}

/** A deployment names its service and version (the KPI-window key `service/version`) and a known track. */
function checkDeployment(deployment: Deployment): void {
  const service = checkText('deployment.service', deployment.service, FIELD_LIMITS.service);
  if (!service) throw new InvalidEventError('deployment.service is missing');
  if (service.includes('/'))
    throw new InvalidEventError(
      `deployment.service '${service}' contains '/', which separates service and version in KPI-window keys`,
    );
  if (!checkText('deployment.version', deployment.version, FIELD_LIMITS.version))
    throw new InvalidEventError('deployment.version is missing');
  if (!knownTracks.has(deployment.track))
    throw new InvalidEventError(
      `deployment.track '${String(deployment.track).slice(0, 40)}' is not one of ${DEPLOYMENT_TRACKS.join(', ')}`,
    );
}

function checkEventTime(timestamp: number, logTimestamp: number, limits: ValidationLimits): void {
  if (!Number.isFinite(timestamp)) throw new InvalidEventError(`timestamp ${timestamp} is not a number`);
  const ahead = timestamp - logTimestamp;
  if (ahead > limits.maxAheadMs)
    throw new InvalidEventError(
      `timestamp ${iso(timestamp)} is ${ahead} ms ahead of its log timestamp ${iso(logTimestamp)}; at most ${limits.maxAheadMs} ms allowed (is the sender's clock fast?)`,
    );
  if (-ahead > limits.maxAgeMs)
    throw new InvalidEventError(
      `timestamp ${iso(timestamp)} is ${-ahead} ms older than its log timestamp ${iso(logTimestamp)}; at most ${limits.maxAgeMs} ms allowed`,
    );
}

/**
 * Checks an optional text field's length and characters; returns it trimmed
 * (as normalisation will keep it), or '' when it is absent or blank.
 */
function checkText(field: string, value: string | null | undefined, maxLength: number): string {
  const text = value?.trim() ?? '';
  if (text.length > maxLength)
    throw new InvalidEventError(`${field} is ${text.length} characters long; at most ${maxLength} allowed`);
  const at = controlCharacterIndex(text);
  if (at >= 0) {
    const code = text.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0');
    throw new InvalidEventError(`${field} contains the control character U+${code} at index ${at}`);
  }
  return text;
}

/**
 * The first C0 or C1 control character, DEL, or Unicode line/paragraph
 * separator: none belongs in an id or a path, and they break keys, logs and
 * terminals. -1 if none.
 */
function controlCharacterIndex(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return i;
  }
  return -1;
}

/** An ISO time, or the raw number for one beyond what a Date can show. */
function iso(timestamp: number): string {
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString();
}

/** Endpoint health needs to know which endpoint was called and how long it took. */
function checkApiPayload(event: TelemetryEvent): void {
  const { method, path, latencyMs } = event.payload;
  if (!method?.trim()) throw new InvalidEventError(`${event.eventType} without payload.method`);
  if (!path?.trim()) throw new InvalidEventError(`${event.eventType} without payload.path`);
  if (latencyMs === null || !Number.isFinite(latencyMs) || latencyMs < 0)
    throw new InvalidEventError(
      `${event.eventType} payload.latencyMs must be a non-negative number of milliseconds, got ${latencyMs}`,
    );
}

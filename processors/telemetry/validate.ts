import { TELEMETRY_EVENT_TYPES, type TelemetryEvent } from '../../schemas/index.js';

/** A telemetry event that decoded but breaks a rule; the message is the reason in the dead-letter headers. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

export interface ValidationLimits {
  /** How far in the future an event time may be. Default 1 day. */
  readonly maxFutureMs: number;
  /** How old an event may be. Default 30 days. */
  readonly maxAgeMs: number;
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  maxFutureMs: 24 * 3_600_000,
  maxAgeMs: 30 * 24 * 3_600_000,
};

const knownTypes = new Set<string>(TELEMETRY_EVENT_TYPES);

/**
 * Checks an event against the platform's rules, relative to `now` (the
 * processing wall clock). Returns the event, or throws InvalidEventError naming
 * the rule it breaks.
 */
export function validateTelemetryEvent(
  event: TelemetryEvent,
  now: number,
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
): TelemetryEvent {
  if (!event.tenantId?.trim()) throw new InvalidEventError('tenantId is missing');
  // the tenant is the first segment of every entity (`tenant/user`, `tenant/METHOD path`)
  if (event.tenantId.includes('/'))
    throw new InvalidEventError(`tenantId '${event.tenantId}' contains '/', which separates entity segments`);
  if (!event.eventId?.trim()) throw new InvalidEventError('eventId is missing');
  if (!knownTypes.has(event.eventType))
    throw new InvalidEventError(
      `eventType '${event.eventType}' is not one of ${TELEMETRY_EVENT_TYPES.join(', ')}`,
    );
  if (!Number.isFinite(event.timestamp))
    throw new InvalidEventError(`timestamp ${event.timestamp} is not a number`);
  if (event.timestamp > now + limits.maxFutureMs) {
    throw new InvalidEventError(
      `timestamp ${new Date(event.timestamp).toISOString()} is more than ${limits.maxFutureMs} ms in the future`,
    );
  }
  if (event.timestamp < now - limits.maxAgeMs) {
    throw new InvalidEventError(
      `timestamp ${new Date(event.timestamp).toISOString()} is more than ${limits.maxAgeMs} ms old`,
    );
  }
  if (event.eventType === 'api_call' || event.eventType === 'api_error') checkApiPayload(event);
  return event;
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

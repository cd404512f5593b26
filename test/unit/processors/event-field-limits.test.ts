import { describe, expect, it } from 'vitest';
import {
  FIELD_LIMITS,
  InvalidEventError,
  validateTelemetryEvent,
} from '../../../processors/telemetry/validate.js';
import { EMPTY_PAYLOAD, type TelemetryEvent } from '../../../schemas/index.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const call: TelemetryEvent = {
  eventId: 'e-1',
  timestamp: T0,
  tenantId: 'acme',
  userId: 'alice',
  eventType: 'api_call',
  payload: { ...EMPTY_PAYLOAD, method: 'GET', path: '/v1/orders', latencyMs: 12, statusCode: 200 },
  metadata: { source: 'test', version: '1' },
};
const withPayload = (payload: Partial<TelemetryEvent['payload']>): TelemetryEvent => ({
  ...call,
  payload: { ...call.payload, ...payload },
});
const reasonFor = (event: TelemetryEvent): string => {
  try {
    validateTelemetryEvent(event, T0);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(event).slice(0, 200)} to be invalid`);
};

describe('field limits of telemetry events', () => {
  it('are documented numbers', () => {
    expect(FIELD_LIMITS).toEqual({
      tenantId: 64,
      eventId: 128,
      userId: 128,
      method: 16,
      path: 512,
      page: 512,
    });
  });

  it('accept every field exactly at its limit, and surrounding blanks (normalisation trims them)', () => {
    const atLimit: TelemetryEvent = {
      ...call,
      tenantId: ` ${'t'.repeat(64)} `,
      eventId: 'e'.repeat(128),
      userId: 'u'.repeat(128),
      payload: {
        ...call.payload,
        method: 'BASELINE-CONTROL',
        path: `/${'p'.repeat(511)}`,
        page: `/${'q'.repeat(511)}`,
      },
    };
    expect(validateTelemetryEvent(atLimit, T0)).toBe(atLimit);
    for (const method of ['GET', 'post', ' PATCH ', 'PURGE', 'MKCALENDAR'])
      expect(validateTelemetryEvent(withPayload({ method }), T0).payload.method).toBe(method);
  });

  it('reject a field one character over its limit, naming the field and the limit, not repeating the value', () => {
    expect(reasonFor({ ...call, tenantId: 't'.repeat(65) })).toBe(
      'tenantId is 65 characters long; at most 64 allowed',
    );
    expect(reasonFor({ ...call, eventId: 'e'.repeat(129) })).toBe(
      'eventId is 129 characters long; at most 128 allowed',
    );
    expect(reasonFor({ ...call, userId: 'u'.repeat(129) })).toBe(
      'userId is 129 characters long; at most 128 allowed',
    );
    expect(reasonFor(withPayload({ path: `/${'p'.repeat(512)}` }))).toBe(
      'payload.path is 513 characters long; at most 512 allowed',
    );
    expect(
      reasonFor({ ...call, eventType: 'click', payload: { ...EMPTY_PAYLOAD, page: 'q'.repeat(600) } }),
    ).toBe('payload.page is 600 characters long; at most 512 allowed');
    expect(reasonFor(withPayload({ method: 'M'.repeat(17) }))).toBe(
      'payload.method is 17 characters long; at most 16 allowed',
    );
  });

  it('reject control characters in ids, tenants, methods, paths and pages, saying which and where', () => {
    expect(reasonFor({ ...call, tenantId: 'acme\u0007' })).toBe(
      'tenantId contains the control character U+0007 at index 4',
    );
    expect(reasonFor({ ...call, eventId: 'e-\u00001' })).toBe(
      'eventId contains the control character U+0000 at index 2',
    );
    expect(reasonFor({ ...call, userId: 'ali\nce' })).toBe(
      'userId contains the control character U+000A at index 3',
    );
    expect(reasonFor(withPayload({ path: '/v1/\u001b[31morders' }))).toBe(
      'payload.path contains the control character U+001B at index 4',
    );
    expect(
      reasonFor({ ...call, eventType: 'pageview', payload: { ...EMPTY_PAYLOAD, page: '/a\u0085b' } }),
    ).toBe('payload.page contains the control character U+0085 at index 2');
    expect(reasonFor(withPayload({ path: '/a\u2028b' }))).toBe(
      'payload.path contains the control character U+2028 at index 2',
    );
  });

  it('reject a method that is not an HTTP method token', () => {
    expect(reasonFor(withPayload({ method: 'GET /admin' }))).toBe(
      "payload.method 'GET /admin' is not an HTTP method: expected letters and '-', e.g. GET",
    );
    expect(reasonFor(withPayload({ method: 'G3T' }))).toMatch(/is not an HTTP method/);
  });
});

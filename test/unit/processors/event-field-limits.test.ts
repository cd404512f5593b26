import { describe, expect, it } from 'vitest';
import {
  FIELD_LIMITS,
  InvalidEventError,
  validateTelemetryEvent,
} from '../../../processors/telemetry/validate.js';
import { type Deployment, EMPTY_PAYLOAD, type TelemetryEvent } from '../../../schemas/index.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const call: TelemetryEvent = {
  eventId: 'e-1',
  timestamp: T0,
  tenantId: 'acme',
  userId: 'alice',
  eventType: 'api_call',
  payload: { ...EMPTY_PAYLOAD, method: 'GET', path: '/v1/orders', latencyMs: 12, statusCode: 200 },
  metadata: { source: 'test', version: '1' },
  deployment: null,
  clientIp: null,
  userAgent: null,
};
const withPayload = (payload: Partial<TelemetryEvent['payload']>): TelemetryEvent => ({
  ...call,
  payload: { ...call.payload, ...payload },
});
const withDeployment = (deployment: Partial<Deployment>): TelemetryEvent => ({
  ...call,
  deployment: { service: 'checkout-api', version: '2.4.1', track: 'canary', ...deployment },
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
      service: 128,
      version: 128,
      clientIp: 64,
      userAgent: 512,
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
    const requestAtLimit: TelemetryEvent = {
      ...call,
      deployment: { service: ` ${'s'.repeat(128)} `, version: 'v'.repeat(128), track: 'baseline' },
      clientIp: ' 0000:0000:0000:0000:0000:ffff:255.255.255.255 ',
      userAgent: 'a'.repeat(512),
    };
    expect(validateTelemetryEvent(requestAtLimit, T0)).toBe(requestAtLimit);
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
    expect(reasonFor(withDeployment({ service: 's'.repeat(129) }))).toBe(
      'deployment.service is 129 characters long; at most 128 allowed',
    );
    expect(reasonFor(withDeployment({ version: 'v'.repeat(129) }))).toBe(
      'deployment.version is 129 characters long; at most 128 allowed',
    );
    expect(reasonFor({ ...call, clientIp: '1'.repeat(65) })).toBe(
      'clientIp is 65 characters long; at most 64 allowed',
    );
    expect(reasonFor({ ...call, userAgent: 'a'.repeat(513) })).toBe(
      'userAgent is 513 characters long; at most 512 allowed',
    );
  });

  it('reject control characters in ids, tenants, methods, paths, pages, deployments, client IPs and user agents, saying which and where', () => {
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
    expect(reasonFor(withDeployment({ service: 'check\tout' }))).toBe(
      'deployment.service contains the control character U+0009 at index 5',
    );
    expect(reasonFor(withDeployment({ version: '2.4\u00001' }))).toBe(
      'deployment.version contains the control character U+0000 at index 3',
    );
    expect(reasonFor({ ...call, clientIp: '10.0\r\n.0.1' })).toBe(
      'clientIp contains the control character U+000D at index 4',
    );
    expect(reasonFor({ ...call, userAgent: 'curl/8.0\u001b[2J' })).toBe(
      'userAgent contains the control character U+001B at index 8',
    );
  });

  it('accept requests without deployment, client IP or user agent: null, or absent in v1 events read as JSON', () => {
    const { deployment: _d, clientIp: _c, userAgent: _u, ...v1 } = call;
    expect(validateTelemetryEvent(call, T0)).toBe(call);
    expect(validateTelemetryEvent(v1 as TelemetryEvent, T0)).toBe(v1);
    expect(validateTelemetryEvent({ ...call, clientIp: ' ', userAgent: '' }, T0).clientIp).toBe(' ');
  });

  it('accept IPv4 and IPv6 client addresses, and reject anything else, showing it', () => {
    for (const clientIp of ['203.0.113.7', '2001:db8::1', '::ffff:10.0.0.1', 'fe80::1%eth0', ' ::1 '])
      expect(validateTelemetryEvent({ ...call, clientIp }, T0).clientIp).toBe(clientIp);
    expect(reasonFor({ ...call, clientIp: '10.0.0.256' })).toBe(
      "clientIp '10.0.0.256' is not an IPv4 or IPv6 address",
    );
    expect(reasonFor({ ...call, clientIp: 'localhost' })).toBe(
      "clientIp 'localhost' is not an IPv4 or IPv6 address",
    );
    expect(reasonFor({ ...call, clientIp: '10.0.0.1:8080' })).toMatch(/is not an IPv4 or IPv6 address/);
  });

  it('reject a deployment without service or version, with a slash in its service or an unknown track', () => {
    expect(reasonFor(withDeployment({ service: '  ' }))).toBe('deployment.service is missing');
    expect(reasonFor(withDeployment({ version: '' }))).toBe('deployment.version is missing');
    expect(reasonFor(withDeployment({ service: 'shop/checkout' }))).toBe(
      "deployment.service 'shop/checkout' contains '/', which separates service and version in KPI-window keys",
    );
    expect(validateTelemetryEvent(withDeployment({ version: 'release/2.4' }), T0).deployment?.version).toBe(
      'release/2.4',
    );
    expect(reasonFor(withDeployment({ track: 'blue' as Deployment['track'] }))).toBe(
      "deployment.track 'blue' is not one of stable, canary, baseline",
    );
  });

  it('reject a method that is not an HTTP method token', () => {
    expect(reasonFor(withPayload({ method: 'GET /admin' }))).toBe(
      "payload.method 'GET /admin' is not an HTTP method: expected letters and '-', e.g. GET",
    );
    expect(reasonFor(withPayload({ method: 'G3T' }))).toMatch(/is not an HTTP method/);
  });
});

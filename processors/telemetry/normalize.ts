import { isIP } from 'node:net';
import type { Deployment, TelemetryEvent, TelemetryPayload } from '../../schemas/index.js';

/**
 * One spelling per fact, so that sessions and features group what is the same:
 * - identifiers are trimmed; the tenant id is lower-cased (tenant ids are slugs,
 *   `Acme` and `acme` are one tenant); user ids keep their case; an empty user id
 *   becomes null (anonymous);
 * - HTTP methods are upper-case; paths and pages lose their query string,
 *   fragment, repeated and trailing slashes, and always start with `/`;
 * - an `api_call` answered with a 5xx is an `api_error`: a failed request counts
 *   as an error wherever errors are counted, whatever the emitter called it;
 * - deployment service and version and the user agent are trimmed; a client IP
 *   takes its canonical text (IPv6 lower-case and compressed, an IPv4-mapped
 *   IPv6 address as the IPv4 one, as dual-stack servers report IPv4 clients);
 *   the fields schema v1 lacks are null, not absent.
 * Stateless and idempotent: normalising a normalised event changes nothing.
 */
export function normalizeTelemetryEvent(event: TelemetryEvent): TelemetryEvent {
  const userId = event.userId?.trim() || null;
  const payload = normalizePayload(event.payload);
  const failed = event.eventType === 'api_call' && (payload.statusCode ?? 0) >= 500;
  return {
    ...event,
    eventId: event.eventId.trim(),
    tenantId: event.tenantId.trim().toLowerCase(),
    userId,
    eventType: failed ? 'api_error' : event.eventType,
    payload,
    deployment: normalizeDeployment(event.deployment),
    clientIp: normalizeClientIp(event.clientIp),
    userAgent: event.userAgent?.trim() || null,
  };
}

function normalizeDeployment(deployment: Deployment | null | undefined): Deployment | null {
  if (deployment == null) return null;
  return { service: deployment.service.trim(), version: deployment.version.trim(), track: deployment.track };
}

const IPV4_MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/** `2001:DB8::0001` → `2001:db8::1`, `::ffff:10.0.0.1` → `10.0.0.1`; blank → null; not an address → as it came, trimmed. */
export function normalizeClientIp(ip: string | null | undefined): string | null {
  const text = ip?.trim();
  if (!text) return null;
  // a zone id (`fe80::1%eth0`) names an interface of the host, kept as it is
  if (isIP(text) !== 6 || text.includes('%')) return text;
  const canonical = new URL(`http://[${text}]`).hostname.slice(1, -1);
  const mapped = IPV4_MAPPED.exec(canonical);
  if (mapped === null) return canonical;
  const [high, low] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

function normalizePayload(payload: TelemetryPayload): TelemetryPayload {
  return {
    ...payload,
    method: payload.method?.trim().toUpperCase() || null,
    path: normalizePath(payload.path),
    page: normalizePath(payload.page),
    element: payload.element?.trim() || null,
  };
}

/** `/v1//orders/?x=1#top` → `/v1/orders`; blank → null. */
export function normalizePath(path: string | null): string | null {
  const bare = path?.trim().replace(/[?#].*$/, '');
  if (!bare) return null;
  const collapsed = `/${bare}`.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

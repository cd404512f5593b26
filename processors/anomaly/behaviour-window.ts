/**
 * Behaviour windows: what one entity (a tenant, a user of a tenant, a client
 * IP) did in one tumbling window, as the anomaly scorer reads it.
 *
 * Each clean event becomes up to three observations (its tenant, its user,
 * its IP), each a few bytes: the facts a window needs, hashed where only
 * distinctness matters. A window's accumulator counts requests, errors and
 * auth failures, keeps bounded sets of hashes (endpoints, users, users with a
 * failed login, IPs, user agents) and its latencies as DDSketch bins. Every set is
 * capped (`MAX_DISTINCT`), so a window's state is bounded whatever the
 * traffic: a count at the cap means "at least".
 */
import { type EntityRef, entityKeyOf, type TelemetryEvent } from '../../schemas/index.js';
import { addToLatencyBins, type LatencyBins, LatencySketch } from '../canary/judge/latency-sketch.js';

/** The behavioural features of a window, in vector order. */
export const BEHAVIOUR_FEATURES = [
  'requests',
  'error_rate',
  'auth_failures',
  'distinct_failed_users',
  'distinct_endpoints',
  'distinct_users',
  'distinct_ips',
  'new_user_agents',
  'off_hours_share',
  'latency_p95_ms',
] as const;

export type BehaviourFeature = (typeof BEHAVIOUR_FEATURES)[number];

/** Most distinct values a window's set keeps: a count at the cap means "at least this many". */
export const MAX_DISTINCT = 512;
/** User agents a window keeps (their hashes), for the scorer's "new user agent" check. */
export const MAX_WINDOW_USER_AGENTS = 16;
/** Event ids a window keeps as evidence. */
export const SAMPLE_EVENT_IDS = 5;
/** Off hours, UTC: from 22:00 to 06:00. */
const OFF_HOURS_START = 22;
const OFF_HOURS_END = 6;

/** What crosses the by-entity repartition topic: one event, as one entity's window needs it. */
export interface BehaviourObservation {
  /** Event id. */
  readonly id: string;
  /** Event time, epoch ms. */
  readonly t: number;
  /** Hash of the user (tenant-qualified), or null. */
  readonly u: number | null;
  /** Hash of the client IP, or null. */
  readonly ip: number | null;
  /** Hash of the user agent, or null. */
  readonly ua: number | null;
  /** Hash of `METHOD path` of an API call, or null. */
  readonly ep: number | null;
  /** A server error (5xx, api_error, error event). */
  readonly err: boolean;
  /** An authentication failure (status 401 or 403). */
  readonly auth: boolean;
  /** Latency in ms, or null. */
  readonly ms: number | null;
}

/** A window's running state (the window store's value). */
export interface BehaviourAccumulator extends LatencyBins {
  requests: number;
  errors: number;
  authFailures: number;
  offHours: number;
  endpoints: number[];
  users: number[];
  failedUsers: number[];
  ips: number[];
  userAgents: number[];
  samples: string[];
}

/** A closed window of one entity: the scorer's input. */
export interface BehaviourWindow {
  readonly entity: EntityRef;
  readonly windowStart: number;
  readonly windowEnd: number;
  /** In BEHAVIOUR_FEATURES order, except new_user_agents, which the scorer fills from the entity's history (0 here). */
  readonly features: number[];
  /** User-agent hashes seen in the window (at most MAX_WINDOW_USER_AGENTS). */
  readonly userAgents: number[];
  readonly sampleEventIds: string[];
}

/** A 32-bit hash of a string (FNV-1a): for distinct counts, where a rare collision costs one. */
export function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const isServerError = (event: TelemetryEvent): boolean =>
  event.eventType === 'api_error' ||
  event.eventType === 'error' ||
  (event.payload.statusCode !== null && event.payload.statusCode >= 500);

const isAuthFailure = (event: TelemetryEvent): boolean =>
  event.payload.statusCode === 401 || event.payload.statusCode === 403;

/** The entities an event is about: its tenant, its user (if any), its client IP (if any). */
export function entitiesOf(event: TelemetryEvent): EntityRef[] {
  const entities: EntityRef[] = [{ kind: 'tenant', id: event.tenantId, tenantId: event.tenantId }];
  if (event.userId !== null) entities.push({ kind: 'user', id: event.userId, tenantId: event.tenantId });
  if (event.clientIp !== null) entities.push({ kind: 'ip', id: event.clientIp, tenantId: null });
  return entities;
}

/** The observation of `event` that each of its entities' windows adds. */
export function observationOf(event: TelemetryEvent): BehaviourObservation {
  const { method, path } = event.payload;
  return {
    id: event.eventId,
    t: event.timestamp,
    u: event.userId === null ? null : hashOf(`${event.tenantId}/${event.userId}`),
    ip: event.clientIp === null ? null : hashOf(event.clientIp),
    ua: event.userAgent === null ? null : hashOf(event.userAgent),
    ep: path === null ? null : hashOf(`${method ?? ''} ${path}`),
    err: isServerError(event),
    auth: isAuthFailure(event),
    ms: event.payload.latencyMs,
  };
}

/** `[entity key, observation]` for each entity of `event`. */
export function keyedObservationsOf(
  event: TelemetryEvent,
): Array<{ key: string; value: BehaviourObservation }> {
  const value = observationOf(event);
  return entitiesOf(event).map((entity) => ({ key: entityKeyOf(entity), value }));
}

export const emptyBehaviour = (): BehaviourAccumulator => ({
  requests: 0,
  errors: 0,
  authFailures: 0,
  offHours: 0,
  endpoints: [],
  users: [],
  failedUsers: [],
  ips: [],
  userAgents: [],
  zeros: 0,
  bins: {},
  samples: [],
});

/** Adds `value` to the sorted set `set` unless present or the set holds `cap` values. */
function addDistinct(set: number[], value: number | null, cap: number): void {
  if (value === null || set.length >= cap) return;
  let lo = 0;
  let hi = set.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((set[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  if (set[lo] !== value) set.splice(lo, 0, value);
}

const isOffHours = (timeMs: number): boolean => {
  const hour = new Date(timeMs).getUTCHours();
  return hour >= OFF_HOURS_START || hour < OFF_HOURS_END;
};

/** Adds one observation to a window's accumulator, in place. */
export function addObservation(acc: BehaviourAccumulator, o: BehaviourObservation): BehaviourAccumulator {
  acc.requests += 1;
  if (o.err) acc.errors += 1;
  if (o.auth) {
    acc.authFailures += 1;
    addDistinct(acc.failedUsers, o.u, MAX_DISTINCT);
  }
  if (isOffHours(o.t)) acc.offHours += 1;
  addDistinct(acc.endpoints, o.ep, MAX_DISTINCT);
  addDistinct(acc.users, o.u, MAX_DISTINCT);
  addDistinct(acc.ips, o.ip, MAX_DISTINCT);
  addDistinct(acc.userAgents, o.ua, MAX_WINDOW_USER_AGENTS);
  if (o.ms !== null && o.ms >= 0) addToLatencyBins(acc, o.ms);
  if (acc.samples.length < SAMPLE_EVENT_IDS) acc.samples.push(o.id);
  return acc;
}

/** The closed window of `entity`, its features in BEHAVIOUR_FEATURES order. */
export function behaviourWindowOf(
  entity: EntityRef,
  window: { readonly start: number; readonly end: number },
  acc: BehaviourAccumulator,
): BehaviourWindow {
  const sketch = LatencySketch.fromBins(acc);
  const p95 = sketch.count === 0 ? 0 : sketch.quantile(0.95);
  const features: Record<BehaviourFeature, number> = {
    requests: acc.requests,
    error_rate: acc.requests === 0 ? 0 : acc.errors / acc.requests,
    auth_failures: acc.authFailures,
    distinct_failed_users: acc.failedUsers.length,
    distinct_endpoints: acc.endpoints.length,
    distinct_users: acc.users.length,
    distinct_ips: acc.ips.length,
    new_user_agents: 0,
    off_hours_share: acc.requests === 0 ? 0 : acc.offHours / acc.requests,
    latency_p95_ms: p95,
  };
  return {
    entity,
    windowStart: window.start,
    windowEnd: window.end,
    features: BEHAVIOUR_FEATURES.map((name) => features[name]),
    userAgents: [...acc.userAgents],
    sampleEventIds: [...acc.samples],
  };
}

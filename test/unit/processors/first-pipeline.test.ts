import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionAggregate } from '../../../processors/sessions/session-aggregate.js';
import type { FeatureUpdate, SessionSummary, TelemetryEvent } from '../../../schemas/index.js';
import type { MemoryFeatureSink, MemorySessionHistorySink } from '../../../sinks/memory/memory-sinks.js';
import { DLQ_HEADERS, type SessionStore } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';
import { memoryPipeline, telemetryEvent } from '../../support/telemetry-events.js';

/** 10:00:00 UTC: minute- and hour-aligned, so bucket boundaries are easy to reason about. */
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const SECOND = 1_000;
const MINUTE = 60 * SECOND;

const event = telemetryEvent;
const api = (method: string, path: string, latencyMs: number, statusCode = 200) => ({
  method,
  path,
  latencyMs,
  statusCode,
});

let driver: TestDriver;
let features: MemoryFeatureSink;
let history: MemorySessionHistorySink;

/** Writes an event with this log (Kafka record) timestamp; by default its own event time, as an on-time sender's. */
async function send(e: TelemetryEvent, logTimestamp = e.timestamp): Promise<void> {
  await driver.pipeInput('raw_events', `${e.tenantId}/${e.userId}`, e, logTimestamp);
}

const valuesOf = (view: FeatureUpdate['view'], entity: string) => features.latest(view, entity)?.values;

beforeEach(async () => {
  const pipeline = memoryPipeline();
  features = pipeline.features;
  history = pipeline.history;
  const { topology } = pipeline;
  driver = await TestDriver.create(topology, { startTime: T0 });
});

afterEach(async () => {
  await driver.close();
});

/**
 * The hand-computed scenario, on one partition (one task per stage, so stream
 * time is shared by all users, as the comments assume):
 * - acme/alice: pageview, GET /v1/orders 20 ms, GET /v1/orders 503 (→ api_error) 100 ms,
 *   a duplicate of the 20 ms call, click, pageview: a session [T0, T0+60s];
 * - acme/bob: GET /v1/orders 40 ms, then GET /v1/search 100 times with 1..100 ms, every
 *   tenth a 500: a session [T0+15s, T0+49.9s];
 * - globex/carol: GET /v1/orders 30 ms, a browser error: a session [T0+5s, T0+70s];
 * - an anonymous globex call, and three invalid events.
 */
async function sendMorning(): Promise<void> {
  await send(event('acme', 'alice', 'pageview', T0, { page: '/home?ref=mail' }));
  await send(event(' Globex ', 'carol', 'api_call', T0 + 5 * SECOND, api('get', '/v1/orders', 30)));
  const duplicated = event('acme', 'alice', 'api_call', T0 + 10 * SECOND, api('GET', '/v1/orders', 20));
  await send(duplicated);
  await send(event('acme', 'bob', 'api_call', T0 + 15 * SECOND, api('GET', '/v1/orders', 40)));
  await send(event('acme', 'alice', 'api_call', T0 + 20 * SECOND, api('GET', '/v1/orders/', 100, 503)));
  await send(duplicated);
  await send(event('acme', 'alice', 'click', T0 + 30 * SECOND, { page: '/home', element: 'button.save' }));
  for (let i = 0; i < 100; i++) {
    const failed = i % 10 === 9;
    await send(
      event(
        'acme',
        'bob',
        failed ? 'api_error' : 'api_call',
        T0 + 40 * SECOND + i * 100,
        api('GET', '/v1/search', i + 1, failed ? 500 : 200),
      ),
    );
  }
  await send(event('globex', null, 'api_call', T0 + 50 * SECOND, api('GET', '/v1/orders', 10)));
  await send(event('acme', 'alice', 'pageview', T0 + 60 * SECOND, { page: '/orders' }));
  await send(event('globex', 'carol', 'error', T0 + 70 * SECOND, { page: '/home', errorMessage: 'boom' }));
  await send(event('', 'mallory', 'click', T0 + 71 * SECOND, { page: '/home' }));
  // a client whose clock is two days fast, received at T0 + 71 s
  await send(
    event('acme', 'mallory', 'click', T0 + 2 * 24 * 60 * MINUTE, { page: '/home' }),
    T0 + 71 * SECOND,
  );
  await send(event('acme', 'mallory', 'api_call', T0 + 72 * SECOND, { method: 'GET', path: '/v1/orders' }));
}

const session = (s: Omit<SessionSummary, 'durationMs'>): SessionSummary => ({
  ...s,
  durationMs: s.end - s.start,
});

const ALICE = session({
  tenantId: 'acme',
  userId: 'alice',
  start: T0,
  end: T0 + 60 * SECOND,
  eventCount: 5,
  countsByType: { pageview: 2, api_call: 1, api_error: 1, click: 1 },
  errorCount: 1,
  distinctPages: 2,
  lastPath: '/orders',
});
const BOB = session({
  tenantId: 'acme',
  userId: 'bob',
  start: T0 + 15 * SECOND,
  end: T0 + 49_900,
  eventCount: 101,
  countsByType: { api_call: 91, api_error: 10 },
  errorCount: 10,
  distinctPages: 0,
  lastPath: '/v1/search',
});
const CAROL = session({
  tenantId: 'globex',
  userId: 'carol',
  start: T0 + 5 * SECOND,
  end: T0 + 70 * SECOND,
  eventCount: 2,
  countsByType: { api_call: 1, error: 1 },
  errorCount: 1,
  distinctPages: 1,
  lastPath: '/home',
});

describe('the first pipeline on the test driver', () => {
  it('dead-letters invalid events with the broken rule as the reason', async () => {
    await sendMorning();
    const reasons = driver.readDeadLetters().map((r) => String(r.headers[DLQ_HEADERS.errorMessage]));
    expect(reasons).toHaveLength(3);
    expect(reasons[0]).toMatch(/tenantId is missing/);
    expect(reasons[1]).toMatch(
      /timestamp 2026-01-03T10:00:00.000Z is 172729000 ms ahead of its log timestamp 2026-01-01T10:01:11.000Z; at most 300000 ms allowed/,
    );
    expect(reasons[2]).toMatch(/api_call payload.latencyMs must be a non-negative number/);
  });

  it('keeps open sessions in the store, queryable by user, and emits none before they close', async () => {
    await sendMorning();
    expect(driver.readOutput('user_sessions')).toEqual([]);
    const store = driver.app.queryStore<SessionStore<string, SessionAggregate>>(
      'user-sessions',
      'acme/alice',
    );
    const open = await store!.fetch('acme/alice');
    expect(open.map(([s]) => s.window)).toEqual([{ start: ALICE.start, end: ALICE.end }]);
    expect(open[0]![1]).toMatchObject({
      eventCount: 5,
      errorCount: 1,
      pages: ['/home', '/orders'],
      lastPath: '/orders',
    });
  });

  it('closes a session only when stream time is past its end + gap + grace, to user_sessions and the history', async () => {
    await sendMorning();
    // stream time = bob's end + 35 min + 100 ms: bob's session is final, alice's (end T0+60s) not yet
    await send(event('acme', 'dave', 'pageview', T0 + 60 * SECOND + 35 * MINUTE, { page: '/home' }));
    expect(driver.readOutput<string, SessionSummary>('user_sessions').map((r) => [r.key, r.value])).toEqual([
      ['acme/bob', BOB],
    ]);
    // one millisecond past alice's end + gap + grace
    await send(event('acme', 'dave', 'click', T0 + 70 * SECOND + 35 * MINUTE + 1, { page: '/home' }));
    const closed = driver.readOutput<string, SessionSummary>('user_sessions');
    expect(closed.map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ['acme/alice', ALICE, ALICE.end],
      ['globex/carol', CAROL, CAROL.end],
    ]);
    expect(history.appends).toEqual([[BOB], [ALICE, CAROL]]);
    // closed sessions leave the store; dave's is open
    const store = driver.app.queryStore<SessionStore<string, SessionAggregate>>(
      'user-sessions',
      'acme/alice',
    );
    expect(await store!.fetch('acme/alice')).toEqual([]);
    const dave = await store!.fetch('acme/dave');
    expect(dave.map(([s, a]) => [s.window.start, s.window.end, a.eventCount])).toEqual([
      [T0 + 36 * MINUTE, T0 + 36 * MINUTE + 10 * SECOND + 1, 2],
    ]);
  });

  it('computes user activity, endpoint health and tenant usage as of each entity’s latest event', async () => {
    await sendMorning();
    expect(valuesOf('user_activity', 'acme/alice')).toEqual({
      events_1h: 5, // the duplicate is dropped
      errors_1h: 1, // the 503 was normalised to api_error
      error_rate_1h: 0.2,
      sessions_24h: 0,
      avg_session_duration_24h: 0,
      last_seen: T0 + 60 * SECOND,
    });
    expect(valuesOf('user_activity', 'acme/bob')).toMatchObject({
      events_1h: 101,
      errors_1h: 10,
      error_rate_1h: 10 / 101,
    });
    expect(valuesOf('user_activity', 'globex/carol')).toMatchObject({ events_1h: 2, errors_1h: 1 });
    expect(features.latest('user_activity', 'globex')).toBeUndefined(); // anonymous: no user

    const search = valuesOf('endpoint_health', 'acme/GET /v1/search')!;
    expect(search.requests_5m).toBe(100);
    expect(search.error_rate_5m).toBe(0.1);
    // latencies 1..100 ms: DDSketch's quantile q is the sample at rank floor(q·99), within 1%
    expect(search.latency_p50_ms).toBeGreaterThanOrEqual(50 * 0.99);
    expect(search.latency_p50_ms).toBeLessThanOrEqual(50 * 1.01);
    expect(search.latency_p95_ms).toBeGreaterThanOrEqual(95 * 0.99);
    expect(search.latency_p95_ms).toBeLessThanOrEqual(95 * 1.01);
    expect(search.latency_p99_ms).toBeGreaterThanOrEqual(99 * 0.99);
    expect(search.latency_p99_ms).toBeLessThanOrEqual(99 * 1.01);
    // '/v1/orders/' and '/v1/orders' are one endpoint; globex's is another entity
    expect(valuesOf('endpoint_health', 'acme/GET /v1/orders')).toMatchObject({
      requests_5m: 3,
      error_rate_5m: 1 / 3,
    });
    expect(valuesOf('endpoint_health', 'globex/GET /v1/orders')).toMatchObject({
      requests_5m: 2,
      error_rate_5m: 0,
    });
    expect(features.latest('endpoint_health', 'acme/GET /v1/orders')!.tenantId).toBe('acme');

    expect(valuesOf('tenant_usage', 'acme')).toEqual({ events_1h: 106, active_users_1h: 2 });
    expect(valuesOf('tenant_usage', 'globex')).toEqual({ events_1h: 3, active_users_1h: 1 });
    expect(features.latest('tenant_usage', 'acme')!.eventTime).toBe(T0 + 60 * SECOND);

    // the same updates, keyed by entity, on feature_updates
    const topic = driver.readOutput<string, FeatureUpdate>('feature_updates');
    const lastOnTopic = new Map(topic.map((r) => [`${r.value.view}|${r.key}`, r.value]));
    expect(lastOnTopic.get('tenant_usage|acme')).toEqual(features.latest('tenant_usage', 'acme'));
    expect(topic.every((r) => r.key === r.value.entity)).toBe(true);
  });

  it('adds closed sessions to user activity and rolls old events out of the windows', async () => {
    await sendMorning();
    await send(event('acme', 'dave', 'pageview', T0 + 60 * SECOND + 35 * MINUTE, { page: '/home' }));
    await send(event('acme', 'dave', 'click', T0 + 70 * SECOND + 35 * MINUTE + 1, { page: '/home' }));
    expect(valuesOf('user_activity', 'acme/bob')).toMatchObject({
      events_1h: 101,
      sessions_24h: 1,
      avg_session_duration_24h: BOB.durationMs,
      last_seen: BOB.end,
    });
    expect(valuesOf('user_activity', 'globex/carol')).toMatchObject({
      sessions_24h: 1,
      avg_session_duration_24h: 65_000,
    });
    expect(valuesOf('tenant_usage', 'acme')).toEqual({ events_1h: 108, active_users_1h: 3 });

    // two hours later: the morning's events are out of every 1-hour window, its sessions still in 24 hours
    await send(event('acme', 'alice', 'pageview', T0 + 120 * MINUTE, { page: '/home' }));
    expect(valuesOf('user_activity', 'acme/alice')).toEqual({
      events_1h: 1,
      errors_1h: 0,
      error_rate_1h: 0,
      sessions_24h: 1,
      avg_session_duration_24h: 60_000,
      last_seen: T0 + 120 * MINUTE,
    });
    expect(valuesOf('tenant_usage', 'acme')).toEqual({ events_1h: 1, active_users_1h: 1 });
  });

  it('forgets event ids an hour behind stream time: an id reused later is a new event', async () => {
    const first = event('acme', 'erin', 'click', T0, { page: '/home' }, 'reused-id');
    await send(first);
    await send({ ...first, timestamp: T0 + 59 * MINUTE });
    expect(valuesOf('user_activity', 'acme/erin')!.events_1h).toBe(1);
    await send(event('acme', 'erin', 'click', T0 + 62 * MINUTE, { page: '/home' }));
    await send({ ...first, timestamp: T0 + 63 * MINUTE });
    expect(valuesOf('user_activity', 'acme/erin')!.events_1h).toBe(2);
    expect(driver.app.queryStore('telemetry-event-ids', 'x')!.approximateEntries()).toBe(2);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { SessionAggregate } from '../../../processors/sessions/session-aggregate.js';
import type { TelemetryEvent } from '../../../schemas/index.js';
import type { MemoryFeatureSink, MemorySessionHistorySink } from '../../../sinks/memory/memory-sinks.js';
import { DLQ_HEADERS, type SessionStore } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';
import { memoryPipeline, telemetryEvent } from '../../support/telemetry-events.js';

/**
 * Event time is checked against the record's log timestamp (the Kafka
 * timestamp it arrived with), not the wall clock: a client with a fast clock
 * cannot drag its partition's stream time forward, and a replay days later
 * gives the same verdicts as the live run.
 */

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const event = telemetryEvent;
const call = (path: string, method = 'GET') => ({ method, path, latencyMs: 12, statusCode: 200 });

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

interface Pipeline {
  readonly driver: TestDriver;
  readonly features: MemoryFeatureSink;
  readonly history: MemorySessionHistorySink;
  /** Writes an event to raw_events with this log (Kafka record) timestamp; default: its own event time. */
  send(e: TelemetryEvent, logTimestamp?: number): Promise<void>;
  reasons(): string[];
  openSessions(user: string): Promise<Array<[number, number, number]>>;
}

/**
 * The first pipeline on one partition (one task per stage, so every user shares
 * one stream time, which is what a fast clock would corrupt), with the
 * driver's wall clock at `wallClock` (validation does not read it).
 */
async function pipeline(wallClock: number): Promise<Pipeline> {
  const { topology, features, history } = memoryPipeline();
  const driver = await TestDriver.create(topology, { startTime: wallClock });
  drivers.push(driver);
  const d = driver;
  return {
    driver: d,
    features,
    history,
    send: (e, logTimestamp = e.timestamp) =>
      d.pipeInput('raw_events', `${e.tenantId}/${e.userId}`, e, logTimestamp),
    reasons: () => d.readDeadLetters().map((r) => String(r.headers[DLQ_HEADERS.errorMessage])),
    openSessions: async (user) => {
      const store = d.app.queryStore<SessionStore<string, SessionAggregate>>('user-sessions', user);
      const open = await store!.fetch(user);
      return open.map(([s, a]): [number, number, number] => [s.window.start, s.window.end, a.eventCount]);
    },
  };
}

describe('event time bounded by the log timestamp', () => {
  it('dead-letters an event 3 h ahead of its log timestamp, and others’ on-time events stay on time', async () => {
    const p = await pipeline(T0);
    const alicePageview = event('acme', 'alice', 'pageview', T0, { page: '/home' });
    await p.send(alicePageview);
    await p.send(event('acme', 'bob', 'api_call', T0 + 10 * SECOND, call('/v1/orders')));
    // a client whose clock runs 3 hours fast, received at T0 + 20 s
    await p.send(event('acme', 'mallory', 'click', T0 + 20 * SECOND + 3 * HOUR), T0 + 20 * SECOND);
    await p.send(event('acme', 'alice', 'click', T0 + 30 * SECOND, { page: '/home' }));
    await p.send(event('acme', 'bob', 'api_call', T0 + 40 * SECOND, call('/v1/orders')));
    // a retry of alice's first event: de-duplication must still remember its id
    await p.send(alicePageview, T0 + 50 * SECOND);

    // nothing closed early, nothing late: stream time stayed at T0 + 40 s
    expect(p.driver.readOutput('user_sessions').map((r) => r.key)).toEqual([]);
    expect(p.history.appends).toEqual([]);
    expect(p.driver.readLateRecords()).toEqual([]);
    const reasons = p.reasons();
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(
      /timestamp 2026-01-01T13:00:20.000Z is 10800000 ms ahead of its log timestamp 2026-01-01T10:00:20.000Z; at most 300000 ms allowed/,
    );
    expect(await p.openSessions('acme/alice')).toEqual([[T0, T0 + 30 * SECOND, 2]]);
    expect(await p.openSessions('acme/bob')).toEqual([[T0 + 10 * SECOND, T0 + 40 * SECOND, 2]]);
    expect(await p.openSessions('acme/mallory')).toEqual([]);
    expect(p.features.latest('user_activity', 'acme/alice')?.values.events_1h).toBe(2);
    expect(p.features.latest('tenant_usage', 'acme')?.eventTime).toBe(T0 + 40 * SECOND);
  });

  it('accepts an event exactly at either bound and dead-letters one a millisecond beyond', async () => {
    const p = await pipeline(T0);
    const log = T0 + 10 * MINUTE;
    await p.send(event('acme', 'ahead', 'pageview', log + 5 * MINUTE, { page: '/a' }), log);
    await p.send(event('acme', 'too-far', 'pageview', log + 5 * MINUTE + 1, { page: '/a' }), log);
    await p.send(event('acme', 'old', 'pageview', log - 30 * DAY, { page: '/a' }), log);
    await p.send(event('acme', 'too-old', 'pageview', log - 30 * DAY - 1, { page: '/a' }), log);

    const reasons = p.reasons();
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/is 300001 ms ahead of its log timestamp .*; at most 300000 ms allowed/);
    expect(reasons[1]).toMatch(
      /is 2592000001 ms older than its log timestamp .*; at most 2592000000 ms allowed/,
    );
    expect(await p.openSessions('acme/ahead')).toEqual([[log + 5 * MINUTE, log + 5 * MINUTE, 1]]);
    // valid, so it reaches the sessions: too late for its window there, routed to the late topic, not the DLQ
    expect(p.features.latest('user_activity', 'acme/old')).toBeDefined();
    expect(p.features.latest('user_activity', 'acme/too-far')).toBeUndefined();
    expect(p.features.latest('user_activity', 'acme/too-old')).toBeUndefined();
  });

  it('gives a replay days later the verdicts of the live run', async () => {
    const recorded: Array<[TelemetryEvent, number]> = [
      [event('acme', 'alice', 'pageview', T0, { page: '/home' }), T0],
      [event('acme', 'alice', 'click', T0 + 10 * SECOND, { page: '/home' }), T0 + 10 * SECOND],
      [event('acme', 'fast', 'click', T0 + 3 * HOUR), T0 + 15 * SECOND],
      [event('acme', 'edge', 'pageview', T0 + 20 * SECOND + 5 * MINUTE), T0 + 20 * SECOND],
      [event('acme', 'stale', 'pageview', T0 - 31 * DAY), T0 + 25 * SECOND],
      [event('acme', 'bob', 'api_call', T0 + 30 * SECOND, call('/v1/orders')), T0 + 30 * SECOND],
      [event('acme', 'alice', 'pageview', T0 + 2 * HOUR, { page: '/end' }), T0 + 2 * HOUR],
    ];
    const run = async (wallClock: number) => {
      const p = await pipeline(wallClock);
      for (const [e, log] of recorded) await p.send(e, log);
      return {
        reasons: p.reasons(),
        sessions: p.driver.readOutput('user_sessions').map((r) => [r.key, r.value]),
        alice: p.features.latest('user_activity', 'acme/alice')?.values,
      };
    };
    const live = await run(T0 + 2 * HOUR);
    const replay = await run(T0 + 90 * DAY);
    expect(replay).toEqual(live);

    expect(live.reasons).toHaveLength(2);
    expect(live.reasons[0]).toMatch(/ahead of its log timestamp/);
    expect(live.reasons[1]).toMatch(/older than its log timestamp/);
    expect(live.sessions.map(([key]) => key).sort()).toEqual(['acme/alice', 'acme/bob', 'acme/edge']);
  });

  it('dead-letters a 100 KB path and a tenant id with a control character, saying which limit', async () => {
    const p = await pipeline(T0);
    const hugePath = `/v1/${'x'.repeat(100 * 1024)}`;
    await p.send(event('acme', 'alice', 'api_call', T0, call(hugePath)));
    await p.send(event('acme\u0007', 'alice', 'pageview', T0 + SECOND, { page: '/home' }));
    await p.send(event('acme', 'alice', 'pageview', T0 + 2 * SECOND, { page: '/home' }));

    const reasons = p.reasons();
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/payload\.path is 102404 characters long; at most 512 allowed/);
    // the reason names the limit, it does not repeat a 100 KB value
    expect(reasons[0]!.length).toBeLessThan(200);
    expect(reasons[1]).toMatch(/tenantId contains the control character U\+0007 at index 4/);
    expect(p.features.latest('endpoint_health', `acme/GET ${hugePath}`)).toBeUndefined();
    expect(p.features.latest('user_activity', 'acme/alice')?.values.events_1h).toBe(1);
  });
});

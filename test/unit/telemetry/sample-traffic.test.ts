import { describe, expect, it } from 'vitest';
import { SampleTraffic } from '../../../cli/sample-traffic.js';
import { defaultCatalog, TELEMETRY_EVENT_TYPES } from '../../../schemas/index.js';

describe('sample traffic', () => {
  const events = new SampleTraffic({ seed: 42, startTime: 1_700_000_000_000 }).take(5_000);

  it('is deterministic for a seed and differs across seeds', () => {
    expect(new SampleTraffic({ seed: 42, startTime: 1_700_000_000_000 }).take(5_000)).toEqual(events);
    expect(new SampleTraffic({ seed: 43, startTime: 1_700_000_000_000 }).take(50)).not.toEqual(
      events.slice(0, 50),
    );
  });

  it('covers every event type, several tenants, and only valid TelemetryEvents with unique ids', () => {
    expect(new Set(events.map((e) => e.eventType))).toEqual(new Set(TELEMETRY_EVENT_TYPES));
    expect(new Set(events.map((e) => e.tenantId)).size).toBe(4);
    const type = defaultCatalog().byTypeName('TelemetryEvent')!.type;
    for (const e of events) expect(type.isValid(e)).toBe(true);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('gives each user one stable client IP and user agent', () => {
    const clients = new Map<string, string>();
    for (const e of events) {
      if (e.userId === null) continue;
      expect(e.clientIp).toMatch(/^10\.\d+\.\d+\.\d+$/);
      const client = `${e.clientIp} ${e.userAgent}`;
      expect(clients.get(`${e.tenantId}/${e.userId}`) ?? client).toBe(client);
      clients.set(`${e.tenantId}/${e.userId}`, client);
    }
    expect(new Set(clients.values()).size).toBe(clients.size);
  });

  it('follows a live clock: a feed whose timer fires late does not fall behind the wall clock', () => {
    // a feed asks for 20 events (100 ms of traffic at 200/s) per tick, but its ticks come 300 ms apart
    const start = 1_700_000_000_000;
    const traffic = new SampleTraffic({ seed: 42, startTime: start });
    let wall = start;
    for (let tick = 0; tick < 600; tick++) {
      wall += 300;
      traffic.follow(wall - 100);
      const batch = traffic.take(20);
      // events a second late are part of the traffic (0-2 s); none falls further behind the wall clock
      for (const e of batch) expect(wall - e.timestamp).toBeLessThan(2_200);
    }
  });

  it('has sessions: users come back after gaps longer than 30 minutes', () => {
    const traffic = new SampleTraffic({ seed: 42, startTime: 1_700_000_000_000, eventsPerSecond: 5 });
    const lastSeen = new Map<string, number>();
    let longGaps = 0;
    for (const e of traffic.take(20_000)) {
      const key = traffic.key(e);
      expect(key).toBe(`${e.tenantId}/${e.userId}`);
      const previous = lastSeen.get(key);
      if (previous !== undefined && e.timestamp - previous > 30 * 60_000) longGaps += 1;
      lastSeen.set(key, e.timestamp);
    }
    expect(longGaps).toBeGreaterThan(10);
  });

  it('has API errors and slow endpoints', () => {
    const api = events.filter((e) => e.eventType === 'api_call' || e.eventType === 'api_error');
    expect(
      api.filter((e) => e.eventType === 'api_error').every((e) => (e.payload.statusCode ?? 0) >= 500),
    ).toBe(true);
    expect(api.some((e) => (e.payload.latencyMs ?? 0) > 400)).toBe(true);
    expect(api.filter((e) => e.eventType === 'api_error').length).toBeGreaterThan(10);
  });
});

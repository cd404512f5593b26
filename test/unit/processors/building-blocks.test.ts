import { DDSketch } from '@datadog/sketches-js';
import { describe, expect, it } from 'vitest';
import {
  decodeSketch,
  emptySketch,
  encodeSketch,
  mergedQuantiles,
} from '../../../processors/features/latency-sketch.js';
import { bucketAt, LAST_5_MINUTES, sumInWindow } from '../../../processors/features/rolling-buckets.js';
import { addToSession, emptySession, mergeSessions } from '../../../processors/sessions/session-aggregate.js';
import {
  normalizeClientIp,
  normalizePath,
  normalizeTelemetryEvent,
} from '../../../processors/telemetry/normalize.js';
import { userKeyOf } from '../../../processors/telemetry/user-key.js';
import { validateTelemetryEvent } from '../../../processors/telemetry/validate.js';
import { EMPTY_PAYLOAD, type TelemetryEvent } from '../../../schemas/index.js';
import { TimeIndex } from '../../../topology/index.js';
import { MemoryKeyValueStore } from '../../../topology/state/memory-key-value-store.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const base: TelemetryEvent = {
  eventId: ' e-1 ',
  timestamp: T0,
  tenantId: ' ACME ',
  userId: '  ',
  eventType: 'api_call',
  payload: {
    ...EMPTY_PAYLOAD,
    method: ' post',
    path: 'v1//orders/?page=2#x',
    latencyMs: 12,
    statusCode: 502,
  },
  metadata: { source: 'test', version: '1' },
  deployment: null,
  clientIp: null,
  userAgent: null,
};

describe('normalisation', () => {
  it('trims ids, lower-cases tenants, upper-cases methods, cleans paths, re-types 5xx calls', () => {
    const e = normalizeTelemetryEvent(base);
    expect(e).toMatchObject({ eventId: 'e-1', tenantId: 'acme', userId: null, eventType: 'api_error' });
    expect(e.payload).toMatchObject({ method: 'POST', path: '/v1/orders' });
    expect(normalizeTelemetryEvent(e)).toEqual(e);
    expect(userKeyOf(e)).toBe('acme');
    expect(userKeyOf({ tenantId: 'acme', userId: 'Ann' })).toBe('acme/Ann');
  });

  it('trims deployment and user agent, gives a client IP its canonical text, nulls what v1 events lack', () => {
    const e = normalizeTelemetryEvent({
      ...base,
      deployment: { service: ' checkout-api ', version: ' 2.4.1 ', track: 'canary' },
      clientIp: ' 2001:DB8:0:0::0001 ',
      userAgent: ' curl/8.5.0 ',
    });
    expect(e).toMatchObject({
      deployment: { service: 'checkout-api', version: '2.4.1', track: 'canary' },
      clientIp: '2001:db8::1',
      userAgent: 'curl/8.5.0',
    });
    expect(normalizeTelemetryEvent(e)).toEqual(e);
    expect(normalizeClientIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeClientIp('203.0.113.7')).toBe('203.0.113.7');
    expect(normalizeClientIp('fe80::1%eth0')).toBe('fe80::1%eth0');
    expect(normalizeClientIp('  ')).toBeNull();
    const { deployment: _d, clientIp: _c, userAgent: _u, ...v1 } = base;
    expect(normalizeTelemetryEvent(v1 as TelemetryEvent)).toMatchObject({
      deployment: null,
      clientIp: null,
      userAgent: null,
    });
  });

  it('keeps a root path and nulls a blank one', () => {
    expect(normalizePath('/')).toBe('/');
    expect(normalizePath('/?q=1')).toBe('/');
    expect(normalizePath('  ')).toBeNull();
    expect(normalizePath('/Orders/')).toBe('/Orders');
  });
});

describe('validation of API events', () => {
  const now = T0;
  it('names the missing method, path or latency, and a tenant id with a slash', () => {
    const call = (payload: Partial<TelemetryEvent['payload']>) => ({
      ...base,
      payload: { ...base.payload, ...payload },
    });
    expect(() => validateTelemetryEvent(call({ method: null }), now)).toThrow(
      /api_call without payload.method/,
    );
    expect(() => validateTelemetryEvent(call({ path: ' ' }), now)).toThrow(/api_call without payload.path/);
    expect(() => validateTelemetryEvent(call({ latencyMs: -1 }), now)).toThrow(/got -1/);
    expect(() => validateTelemetryEvent({ ...base, tenantId: 'a/b' }, now)).toThrow(/contains '\/'/);
    expect(validateTelemetryEvent(base, now)).toBe(base);
  });
});

describe('session aggregates', () => {
  const at = (timestamp: number, page: string | null, eventType: TelemetryEvent['eventType'] = 'pageview') =>
    ({ ...base, timestamp, eventType, payload: { ...EMPTY_PAYLOAD, page } }) as TelemetryEvent;

  it('merges two sessions into what one would have been, whatever the order', () => {
    const left = addToSession(addToSession(emptySession(), at(1, '/a')), at(5, '/b', 'error'));
    const right = addToSession(emptySession(), at(3, '/a'));
    const whole = [at(1, '/a'), at(3, '/a'), at(5, '/b', 'error')].reduce(addToSession, emptySession());
    expect(mergeSessions(left, right)).toEqual(whole);
    expect(mergeSessions(right, left)).toEqual(whole);
    expect(whole).toMatchObject({ eventCount: 3, errorCount: 1, pages: ['/a', '/b'], lastPath: '/b' });
  });
});

/** A sketch of `latencies`, encoded for the store. */
function sketchOf(latencies: readonly number[]) {
  const sketch = decodeSketch(emptySketch());
  for (const latency of latencies) sketch.accept(latency);
  return encodeSketch(sketch);
}

describe('latency sketches', () => {
  it('encode compactly and decode to the same quantiles as the library', () => {
    const latencies = [0, 0.5, 3, 3, 17, 250, 1_900, 12_000];
    const reference = new DDSketch({ relativeAccuracy: 0.01 });
    for (const latency of latencies) reference.accept(latency);
    // encoded and decoded after every sample, as a bucket is across batches
    const encoded = latencies.reduce((acc, latency) => {
      const sketch = decodeSketch(acc);
      sketch.accept(latency);
      return encodeSketch(sketch);
    }, emptySketch());
    const decoded = decodeSketch(encoded);
    for (const q of [0, 0.25, 0.5, 0.9, 1])
      expect(decoded.getValueAtQuantile(q)).toBe(reference.getValueAtQuantile(q));
    expect(encodeSketch(decoded)).toEqual(encoded);
    expect(JSON.stringify(encoded).length).toBeLessThan(200);
  });

  it('merge per-minute sketches into the quantiles of all their samples', () => {
    const all = Array.from({ length: 100 }, (_, i) => i + 1);
    const even = sketchOf(all.filter((ms) => ms % 2 === 0));
    const odd = sketchOf(all.filter((ms) => ms % 2 === 1));
    const [p50, p99] = mergedQuantiles([even, odd], [0.5, 0.99]);
    expect(Math.abs(p50! - 50) / 50).toBeLessThanOrEqual(0.01);
    expect(Math.abs(p99! - 99) / 99).toBeLessThanOrEqual(0.01);
    expect(mergedQuantiles([], [0.5])).toEqual([0]);
  });
});

describe('rolling buckets', () => {
  it('keep the last five minutes as of the latest time and ignore older samples', () => {
    const buckets: Array<{ slot: number; n: number }> = [];
    const add = (asOf: number, time: number) => {
      const b = bucketAt(buckets, LAST_5_MINUTES, asOf, time, (slot) => ({ slot, n: 0 }));
      if (b) b.n += 1;
    };
    for (let minute = 0; minute < 7; minute++) add(T0 + minute * 60_000, T0 + minute * 60_000);
    add(T0 + 6 * 60_000, T0 + 60_000); // minute 1: out of the window ending in minute 6
    add(T0 + 6 * 60_000, T0 + 2 * 60_000 + 5); // minute 2: the oldest minute still in it
    expect(sumInWindow(buckets, LAST_5_MINUTES, T0 + 6 * 60_000, (b) => b.n)).toBe(6);
    expect(buckets.map((b) => b.slot - T0 / 60_000)).toEqual([2, 3, 4, 5, 6]);
  });
});

describe('the time index (store-backed expiry)', () => {
  it('takes, oldest first, only the ids indexed before the cutoff, and re-indexes an id that was seen again', async () => {
    const store = new MemoryKeyValueStore<string, string>('ids-by-time', (k) => Buffer.from(k, 'latin1'));
    const index = new TimeIndex(store);
    index.add(T0, 'old');
    index.add(T0 + 60_000, 'refreshed');
    index.add(T0 + 30 * 60_000, 'recent');
    // seen again later: moved to its new time
    index.move(T0 + 60_000, T0 + 40 * 60_000, 'refreshed');
    expect(await index.takeBefore(T0 + 20 * 60_000)).toEqual([[T0, 'old']]);
    expect(await index.takeBefore(T0 + 20 * 60_000)).toEqual([]);
    expect(await index.takeBefore(T0 + 50 * 60_000)).toEqual([
      [T0 + 30 * 60_000, 'recent'],
      [T0 + 40 * 60_000, 'refreshed'],
    ]);
    expect(store.approximateEntries()).toBe(0);
  });
});

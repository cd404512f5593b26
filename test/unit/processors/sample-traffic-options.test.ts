import { describe, expect, it } from 'vitest';
import { SampleTraffic } from '../../../cli/sample-traffic.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

describe('sample traffic options for the pipeline demo', () => {
  it('leave the default stream unchanged at rate 0', () => {
    const plain = new SampleTraffic({ seed: 5, startTime: T0 }).take(500);
    const zero = new SampleTraffic({ seed: 5, startTime: T0, anonymousRate: 0, duplicateRate: 0 }).take(500);
    expect(zero).toEqual(plain);
  });

  it('send some events twice in a row, with the same id and content', () => {
    const traffic = new SampleTraffic({ seed: 5, startTime: T0, duplicateRate: 0.1 });
    const events = traffic.take(2_000);
    const repeats = events.filter((e, i) => i > 0 && events[i - 1]!.eventId === e.eventId);
    expect(repeats.length).toBeGreaterThan(100);
    expect(repeats.length).toBeLessThan(300);
    for (const e of repeats) expect(events[events.indexOf(e)]).toEqual(e);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length - repeats.length);
  });

  it('make some events anonymous, keyed by their tenant alone', () => {
    const traffic = new SampleTraffic({ seed: 5, startTime: T0, anonymousRate: 0.2 });
    const anonymous = traffic.take(1_000).filter((e) => e.userId === null);
    expect(anonymous.length).toBeGreaterThan(120);
    expect(anonymous.length).toBeLessThan(280);
    expect(traffic.key(anonymous[0]!)).toBe(anonymous[0]!.tenantId);
  });
});

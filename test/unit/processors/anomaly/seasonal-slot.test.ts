import { describe, expect, it } from 'vitest';
import { anomalyScore, slotOf } from '../../../../processors/anomaly/index.js';

describe('seasonal slots', () => {
  it('daily is the UTC hour of day, weekly the hour of week from Monday 00:00 UTC', () => {
    const monday = Date.UTC(2026, 0, 5, 0, 30);
    expect(slotOf('daily', monday)).toBe(0);
    expect(slotOf('daily', Date.UTC(2026, 0, 5, 23, 59))).toBe(23);
    expect(slotOf('weekly', monday)).toBe(0);
    expect(slotOf('weekly', Date.UTC(2026, 0, 6, 1))).toBe(25);
    expect(slotOf('weekly', Date.UTC(2026, 0, 11, 23))).toBe(167);
    expect(slotOf('daily', -1)).toBe(23);
    expect(slotOf('none', monday)).toBe(0);
  });
});

describe('anomalyScore', () => {
  it('maps z to [0, 1]: 0.5 at z = 4, low below 3, high above 5', () => {
    expect(anomalyScore(4)).toBeCloseTo(0.5);
    expect(anomalyScore(3)).toBeLessThan(0.15);
    expect(anomalyScore(5)).toBeGreaterThan(0.85);
    expect(anomalyScore(0)).toBeLessThan(0.001);
    expect(anomalyScore(1e9)).toBe(1);
  });
});

/**
 * The incident rules' floors (processors/incidents/incident-rules.ts): a
 * share's floor is tested on its lower confidence bound, so that a few
 * requests cannot make an error storm out of a 1 % base rate.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INCIDENT_RULES,
  featuresOf,
  matchRule,
  shareLowerBound,
} from '../../../../processors/incidents/incident-rules.js';
import type { AnomalyScore } from '../../../../schemas/index.js';

const errorStorm = DEFAULT_INCIDENT_RULES.find((r) => r.kind === 'error_storm')!;

/** A tenant window of `requests` requests, `errors` of them server errors. */
const tenantWindow = (requests: number, errors: number) =>
  featuresOf({
    features: [
      { name: 'requests', value: requests, baseline: 40, score: 0.5 },
      { name: 'error_rate', value: errors / requests, baseline: 0.01, score: 1 },
    ],
  } as unknown as AnomalyScore);

describe('incident rules', () => {
  it('shareLowerBound is the Wilson score interval’s lower end (95 %)', () => {
    // reference values of the Wilson interval at z = 1.96
    expect(shareLowerBound(5 / 30, 30)).toBeCloseTo(0.0734, 3);
    expect(shareLowerBound(0.5, 100)).toBeCloseTo(0.4038, 3);
    expect(shareLowerBound(0, 50)).toBe(0);
    expect(shareLowerBound(1, 10)).toBeCloseTo(0.7225, 3);
    expect(shareLowerBound(0.3, 0)).toBe(0);
    // more evidence, a tighter bound
    expect(shareLowerBound(0.2, 1000)).toBeGreaterThan(shareLowerBound(0.2, 20));
  });

  it('error storm: a high share of few requests is not enough; a storm of 35 % is', () => {
    // what a 1 % base rate gives now and then: 3 of 20 (15 %), 5 of 30 (17 %)
    expect(matchRule(errorStorm, tenantWindow(20, 3)).matched).toBe(false);
    expect(matchRule(errorStorm, tenantWindow(30, 5)).matched).toBe(false);
    expect(matchRule(errorStorm, tenantWindow(60, 9)).matched).toBe(false);
    // a storm: ~35 % of a tenant's requests
    expect(matchRule(errorStorm, tenantWindow(20, 7)).matched).toBe(true);
    expect(matchRule(errorStorm, tenantWindow(40, 14)).matched).toBe(true);
    expect(matchRule(errorStorm, tenantWindow(200, 70)).matched).toBe(true);
    // the requests floor still holds on its own
    expect(matchRule(errorStorm, tenantWindow(15, 15)).matched).toBe(false);
    // hysteresis: half the floor keeps a storm open at 7 of 40
    expect(matchRule(errorStorm, tenantWindow(40, 7), 0.5).matched).toBe(true);
    expect(matchRule(errorStorm, tenantWindow(40, 7)).matched).toBe(false);
  });
});

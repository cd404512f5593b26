import { describe, expect, it } from 'vitest';
import { judgeSeededRollout, SCENARIOS, type Scenario } from './canary-traffic.js';

/**
 * Sequential validity: a canary identical to its baseline, judged after every
 * one of 10 windows (and on after a promote, which a controller would not do),
 * must be rolled back in at most 1% of seeded runs. A one-look test at the
 * same level would alarm several times as often.
 */
const falseRollbackRate = (scenario: Scenario, runs: number): number => {
  let rollbacks = 0;
  for (let seed = 1; seed <= runs; seed++) {
    if (judgeSeededRollout(scenario, seed, { judgeEveryWindow: true }).anyRollback) rollbacks++;
  }
  return rollbacks / runs;
};

describe('canary judge: false rollbacks when judged after every window', () => {
  it('rolls back at most 1% of 200 identical canaries over 10 windows', () => {
    const rate = falseRollbackRate({ ...SCENARIOS.identical, windows: 10 }, 200);
    console.log(JSON.stringify({ scenario: 'identical', runs: 200, windows: 10, false_rollback_rate: rate }));
    expect(rate).toBeLessThanOrEqual(0.01);
  }, 120_000);

  it('rolls back at most 1% of 100 canaries against a noisy baseline over 10 windows', () => {
    // the baseline drifts ±15% from window to window, with error-rate swings and 1% stalls
    const rate = falseRollbackRate({ ...SCENARIOS.noisyBaseline, windows: 10 }, 100);
    console.log(
      JSON.stringify({ scenario: 'noisy baseline', runs: 100, windows: 10, false_rollback_rate: rate }),
    );
    expect(rate).toBeLessThanOrEqual(0.01);
  }, 120_000);
});

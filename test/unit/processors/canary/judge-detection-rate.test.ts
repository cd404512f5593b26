import { describe, expect, it } from 'vitest';
import { judgeSeededRollout, type RolloutOutcome, SCENARIOS, type Scenario } from './canary-traffic.js';

const RUNS = 100;

/** Seeded runs of `scenario`, each judged after every window until its first promote or rollback. */
function outcomes(scenario: Scenario): RolloutOutcome[] {
  return Array.from({ length: RUNS }, (_, i) => judgeSeededRollout(scenario, 1000 + i));
}

const share = (runs: readonly RolloutOutcome[], test: (r: RolloutOutcome) => boolean): number =>
  runs.filter(test).length / runs.length;

const medianWindows = (runs: readonly RolloutOutcome[]): number => {
  const w = runs
    .map((r) => r.windowsToDecision)
    .filter((n) => n > 0)
    .sort((a, b) => a - b);
  return w[w.length >> 1] ?? 0;
};

describe('canary judge: detection over 100 seeded runs per scenario (500 requests per window)', () => {
  it.each([SCENARIOS.latencyShift, SCENARIOS.tail, SCENARIOS.variance, SCENARIOS.errors])(
    'rolls back at least 95 of 100 runs of "$name", before any promote',
    (scenario) => {
      const runs = outcomes(scenario);
      const rate = share(runs, (r) => r.decision === 'rollback');
      console.log(
        JSON.stringify({
          scenario: scenario.name,
          detection_rate: rate,
          windows_to_decision: medianWindows(runs),
        }),
      );
      expect(rate).toBeGreaterThanOrEqual(0.95);
    },
    120_000,
  );

  it('never promotes sparse errors [0,1,2,1,0,0] against none, which a rank test would miss', () => {
    const runs = outcomes(SCENARIOS.sparseErrors);
    const rate = share(runs, (r) => !r.anyPromote);
    console.log(JSON.stringify({ scenario: 'sparse errors', detection_rate: rate }));
    expect(rate).toBeGreaterThanOrEqual(0.95);
  }, 120_000);

  it('promotes a better canary (20% faster, half the errors) and never rolls it back', () => {
    const runs = outcomes(SCENARIOS.better);
    const rate = share(runs, (r) => r.decision === 'promote');
    console.log(
      JSON.stringify({
        scenario: 'better canary',
        promote_rate: rate,
        windows_to_decision: medianWindows(runs),
      }),
    );
    expect(rate).toBeGreaterThanOrEqual(0.95);
    expect(share(runs, (r) => r.anyRollback)).toBe(0);
  }, 120_000);

  it('holds with too little traffic (10 requests per window)', () => {
    const runs = Array.from({ length: 20 }, (_, i) => judgeSeededRollout(SCENARIOS.littleTraffic, 1000 + i));
    expect(share(runs, (r) => r.decision === 'hold')).toBe(1);
  });
});

/**
 * The canary gate's topology on the test driver (cli/canary-simulation.ts): every scenario of issue 11
 * (cli/canary-scenarios.ts) as requests on raw_events and a start command on
 * canary_commands, through clean telemetry → KPI windows → judge; the
 * verdicts written are checked against the scenario's expected outcome.
 */
import { describe, expect, it } from 'vitest';
import { CANARY_SCENARIOS } from '../../../../cli/canary-scenarios.js';
import { simulateInProcess } from '../../../../cli/canary-simulation.js';

const START = Date.UTC(2026, 10, 1, 12, 0, 0);

describe('canary gate topology', () => {
  it.each(Object.values(CANARY_SCENARIOS))(
    '$name: the verdicts reach the expected outcome',
    async (scenario) => {
      const { decisions, windows, traffic } = await simulateInProcess(scenario, {
        seed: 11,
        startTime: START,
      });
      const verdicts = decisions.map((d) => d.verdict);
      // the start, then one judgement per closed window pair until the rollout ends
      expect(verdicts[0]).toBe('hold');
      expect(decisions[0]!.status).toBe('running');
      const final = verdicts.find((v) => v !== 'hold') ?? 'hold';
      if (scenario.expected === 'rollback') expect(final).toBe('rollback');
      if (scenario.expected === 'promote') expect(final).toBe('promote');
      if (scenario.expected === 'no-rollback') expect(verdicts).not.toContain('rollback');
      if (scenario.expected === 'no-promote') expect(verdicts).not.toContain('promote');
      if (scenario.expected === 'hold') expect(verdicts.every((v) => v === 'hold')).toBe(true);
      // a verdict other than hold ends the rollout: nothing is judged after it
      const ended = verdicts.findIndex((v) => v !== 'hold' && v !== undefined);
      if (ended > 0) expect(decisions.length).toBe(ended + 1);
      // every window of both tracks closed once, with exactly the requests generated
      const perTrack = (track: string) => windows.filter((w) => w.track === track);
      expect(perTrack('canary')).toHaveLength(scenario.windows);
      expect(perTrack('baseline')).toHaveLength(scenario.windows);
      const generated = traffic.events.filter(
        (e) => e.deployment?.track === 'canary' && e.timestamp < traffic.end,
      );
      expect(perTrack('canary').reduce((n, w) => n + w.requests, 0)).toBe(generated.length);
      expect(perTrack('canary').reduce((n, w) => n + w.errors, 0)).toBe(
        generated.filter((e) => (e.payload.statusCode ?? 0) >= 500).length,
      );
    },
  );
});

/**
 * The canary gate's statistics, measured:
 * - per scenario, one seeded rollout through the whole gate in this process
 *   (clean telemetry → KPI windows → judge, cli/canary-simulation.ts): its
 *   final verdict, the windows and the event time it took;
 * - over many seeded rollouts per scenario, judged after every window as the
 *   gate judges them (windows drawn with the scenario's generator, folded by
 *   the gate's own KPI accumulator, judged by its judge): the share of
 *   identical canaries ever rolled back (false rollbacks) and the share of
 *   regressed canaries rolled back before any promote (detection), with the
 *   median windows to that decision.
 */
import { CANARY_SCENARIOS, type CanaryScenario, drawWindow } from '../cli/canary-scenarios.js';
import { simulateInProcess } from '../cli/canary-simulation.js';
import { judgeRollout, type KpiWindowSummary, type Verdict } from '../processors/canary/judge/index.js';
import { addToKpiWindow, emptyKpiAccumulator, sketchOf } from '../processors/canary/kpi-accumulator.js';
import { seededRandom } from '../processors/seeded-random.js';

export interface CanaryBenchOptions {
  /** Seeded rollouts per scenario for the rates. Default 200. */
  readonly runs: number;
  readonly seed: number;
}

const REGRESSIONS = [
  'latency-regression',
  'tail-regression',
  'variance-regression',
  'error-regression',
] as const;
const START = Date.UTC(2026, 0, 1, 0, 0, 0);

/** One window of one track as the gate summarises it. */
function windowSummary(
  s: CanaryScenario,
  track: 'canary' | 'baseline',
  index: number,
  random: () => number,
): KpiWindowSummary {
  const draw = drawWindow(s[track], s.requestsPerWindow, index, random);
  const acc = emptyKpiAccumulator();
  const seed = index * 2 + (track === 'canary' ? 0 : 1);
  draw.latencies.forEach((latencyMs, r) => {
    addToKpiWindow(acc, { error: draw.failed[r]!, latencyMs }, seed);
  });
  return {
    windowId: String(index),
    requestCount: acc.requests,
    errorCount: acc.errors,
    latencySamples: acc.samples,
    latencySketch: sketchOf(acc),
  };
}

interface Run {
  /** The first verdict other than hold, or hold. */
  readonly decision: Verdict;
  readonly windows: number;
  readonly anyRollback: boolean;
}

/** A seeded rollout judged after every window to its last. */
function judgedRun(s: CanaryScenario, seed: number): Run {
  const random = seededRandom(seed);
  const canary: KpiWindowSummary[] = [];
  const baseline: KpiWindowSummary[] = [];
  let decision: Verdict = 'hold';
  let windows = 0;
  let anyRollback = false;
  for (let w = 0; w < s.windows; w++) {
    canary.push(windowSummary(s, 'canary', w, random));
    baseline.push(windowSummary(s, 'baseline', w, random));
    const { verdict } = judgeRollout(canary, baseline);
    anyRollback ||= verdict === 'rollback';
    if (verdict !== 'hold' && decision === 'hold') {
      decision = verdict;
      windows = w + 1;
    }
  }
  return { decision, windows, anyRollback };
}

const median = (values: number[]): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

export async function benchCanary(options: CanaryBenchOptions) {
  const began = performance.now();
  const scenarios: Record<string, object> = {};
  for (const [name, s] of Object.entries(CANARY_SCENARIOS)) {
    const { decisions } = await simulateInProcess(s, { seed: options.seed, startTime: START });
    const final = decisions.find((d) => d.verdict !== 'hold') ?? decisions[decisions.length - 1];
    scenarios[name] = {
      expected: s.expected,
      verdict: final?.verdict ?? 'hold',
      windows_judged: final?.windowsJudged ?? 0,
      event_time_to_decision_s:
        final === undefined || final.verdict === 'hold' ? null : (final.decidedAt - START) / 1000,
    };
    process.stderr.write(`canary bench: ${name} → ${final?.verdict}\n`);
  }
  const runsOf = (s: CanaryScenario) =>
    Array.from({ length: options.runs }, (_, i) => judgedRun(s, options.seed * 1_000_003 + i));
  const identical = runsOf(CANARY_SCENARIOS.identical);
  const detection: Record<string, number> = {};
  const windowsToDecision: Record<string, number | null> = {};
  for (const name of REGRESSIONS) {
    const runs = runsOf(CANARY_SCENARIOS[name]);
    const caught = runs.filter((r) => r.decision === 'rollback');
    detection[name] = caught.length / runs.length;
    windowsToDecision[name] = median(caught.map((r) => r.windows));
    process.stderr.write(`canary bench: ${name} detected in ${caught.length} of ${runs.length}\n`);
  }
  return {
    bench: 'canary',
    false_rollback_rate: identical.filter((r) => r.anyRollback).length / identical.length,
    detection_rate: detection,
    windows_to_decision: windowsToDecision,
    runs_per_scenario: options.runs,
    requests_per_window: CANARY_SCENARIOS.identical.requestsPerWindow,
    scenarios,
    seconds: Math.round((performance.now() - began) / 100) / 10,
    rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

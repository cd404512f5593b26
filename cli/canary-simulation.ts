/**
 * Runs a canary scenario through the canary gate in this process (clean
 * telemetry → KPI windows → judge, on the memory transport through the test
 * driver): the decisions the gate makes and the KPI windows it closes. What
 * `veroai simulate` does without a broker, and what the canary bench and
 * tests measure.
 */
import { CANARY_COMMANDS_TOPIC, canaryGate } from '../processors/canary/canary-gate.js';
import type { JudgeConfigOverrides } from '../processors/canary/judge/index.js';
import { KPI_WINDOWS_TOPIC } from '../processors/canary/kpi-windows.js';
import { cleanTelemetry, RAW_EVENTS_TOPIC } from '../processors/telemetry/clean-telemetry.js';
import {
  type CanaryDecision,
  canaryCommandSerde,
  canaryDecisionSerde,
  type KpiWindow,
  kpiWindowSerde,
  telemetryEventSerde,
} from '../schemas/index.js';
import { MemoryCanaryDecisions } from '../sinks/memory/memory-sinks.js';
import { TopologyBuilder } from '../topology/index.js';
import { TestDriver } from '../topology/testing/index.js';
import {
  type CanaryScenario,
  type ScenarioTraffic,
  scenarioEventKey,
  scenarioTraffic,
} from './canary-scenarios.js';

export interface SimulationResult {
  readonly traffic: ScenarioTraffic;
  /** The rollout's decisions in the order made. */
  readonly decisions: CanaryDecision[];
  readonly windows: KpiWindow[];
}

export interface SimulationOptions {
  readonly seed: number;
  /** Event time of the first window (epoch ms). */
  readonly startTime: number;
  readonly judge?: JudgeConfigOverrides;
  /** KPI window grace of the gate. Default 10 seconds. */
  readonly windowGraceMs?: number;
}

export async function simulateInProcess(
  scenario: CanaryScenario,
  options: SimulationOptions,
): Promise<SimulationResult> {
  const builder = new TopologyBuilder();
  const events = cleanTelemetry(builder, { telemetrySerde: telemetryEventSerde() });
  const decisions = new MemoryCanaryDecisions();
  canaryGate(builder, events, {
    serdes: { kpiWindow: kpiWindowSerde(), command: canaryCommandSerde(), decision: canaryDecisionSerde() },
    decisions,
    partitions: 1,
    windowGraceMs: options.windowGraceMs ?? 10_000,
    ...(options.judge === undefined ? {} : { judge: options.judge }),
  });
  const driver = await TestDriver.create(builder.build(), { applicationId: 'veroai-simulate' });
  try {
    const traffic = scenarioTraffic(scenario, {
      seed: options.seed,
      startTime: options.startTime,
      closeAfterMs: 60_000 + (options.windowGraceMs ?? 10_000) + 1,
    });
    await driver.pipeInputs(CANARY_COMMANDS_TOPIC, [
      { key: traffic.commandKey, value: traffic.start, timestamp: traffic.start.issuedAt },
    ]);
    const requests = [...traffic.events, ...traffic.closing];
    for (let i = 0; i < requests.length; i += 5_000)
      await driver.pipeInputs(
        RAW_EVENTS_TOPIC,
        requests
          .slice(i, i + 5_000)
          .map((e) => ({ key: scenarioEventKey(e), value: e, timestamp: e.timestamp })),
      );
    const windows = driver.readOutput<string, KpiWindow>(KPI_WINDOWS_TOPIC).map((r) => r.value);
    return { traffic, decisions: decisions.decisionsOf(traffic.start.rolloutId), windows };
  } finally {
    await driver.close();
  }
}

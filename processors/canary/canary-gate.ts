import type { CanaryCommand, CanaryDecision, KpiWindow, TelemetryEvent } from '../../schemas/index.js';
import { rolloutKeyOf } from '../../schemas/index.js';
import {
  type KStream,
  type Serde,
  Serdes,
  type TopicSpec,
  type TopologyBuilder,
} from '../../topology/index.js';
import { type SinkRetryOptions, writeBatchToSink } from '../write-batch-to-sink.js';
import type { CanaryDecisionSink } from './canary-decision-sink.js';
import type { CanaryMetrics } from './canary-metrics.js';
import type { JudgeConfigOverrides } from './judge/index.js';
import { KPI_WINDOWS_TOPIC, kpiWindows } from './kpi-windows.js';
import {
  CANARY_ROLLOUTS_STORE,
  CanaryCommandError,
  type RolloutInput,
  type RolloutState,
  rolloutJudge,
  rolloutWindowOf,
} from './rollout-judge.js';

export const CANARY_COMMANDS_TOPIC = 'canary_commands';
export const CANARY_DECISIONS_TOPIC = 'canary_decisions';

export interface CanaryGateOptions {
  readonly serdes: {
    readonly kpiWindow: Serde<KpiWindow>;
    readonly command: Serde<CanaryCommand>;
    readonly decision: Serde<CanaryDecision>;
  };
  readonly decisions: CanaryDecisionSink;
  /** Partitions of canary_commands and of the windows' repartition topic: they are read together. */
  readonly partitions: number;
  /** KPI window size. Default 1 minute. */
  readonly windowMs?: number;
  /** Out-of-order tolerance of a KPI window after its end. Default 10 seconds. */
  readonly windowGraceMs?: number;
  /** The judge's settings (confidence, tolerances, minimum windows and samples). */
  readonly judge?: JudgeConfigOverrides;
  readonly metrics?: CanaryMetrics;
  readonly retry?: SinkRetryOptions;
}

/**
 * The canary KPI gate on the clean telemetry: KPI windows per service build
 * and track (`kpi_windows`), and the judge, which reads them together with
 * `canary_commands` (both keyed `tenantId/service`, co-partitioned) and emits
 * a verdict per closed window pair to `canary_decisions`, first written to
 * the decision sink the API and the rollout controllers read.
 * Returns the external topics it reads and writes.
 */
export function canaryGate(
  builder: TopologyBuilder,
  events: KStream<string, TelemetryEvent>,
  options: CanaryGateOptions,
): TopicSpec[] {
  const { metrics } = options;
  const windows = kpiWindows(events, {
    kpiSerde: options.serdes.kpiWindow,
    windowMs: options.windowMs,
    graceMs: options.windowGraceMs,
    onClosed: metrics === undefined ? undefined : (w) => metrics.windowClosed(w),
  });
  const inputSerde = Serdes.json<RolloutInput>();
  const windowsByService = windows
    .map(
      (w) => ({
        key: rolloutKeyOf(w.tenantId, w.service),
        value: { window: rolloutWindowOf(w) } as RolloutInput,
      }),
      {
        name: 'kpi-window-by-service',
        key: Serdes.string as Serde<string>,
        value: inputSerde,
      },
    )
    .repartition({ name: 'kpi-windows-by-service', partitions: options.partitions });
  const commands = builder
    .stream(CANARY_COMMANDS_TOPIC, {
      key: Serdes.string,
      value: options.serdes.command,
      name: 'canary-commands',
      timestamp: (record) => (record.value as CanaryCommand).issuedAt,
    })
    .mapValues((command, record) => commandInput(command, record.key), {
      name: 'canary-command-input',
      value: inputSerde,
    }) as KStream<string, RolloutInput>;
  builder.addStateStore(CANARY_ROLLOUTS_STORE, { key: Serdes.string, value: Serdes.json<RolloutState>() });
  const decided = windowsByService
    .merge(commands, { name: 'rollout-inputs' })
    .process(rolloutJudge(options.judge), {
      name: 'judge-rollout',
      stores: [CANARY_ROLLOUTS_STORE],
      key: Serdes.string as Serde<string>,
      value: options.serdes.decision,
    })
    .process(
      writeBatchToSink<string, CanaryDecision>(
        'canary-decisions',
        (d) => options.decisions.write(d),
        options.retry,
      ),
      { name: 'write-canary-decisions', keyPreserving: true, value: options.serdes.decision },
    );
  (metrics === undefined
    ? decided
    : decided.peek((d) => metrics.decided(d), { name: 'canary-verdict-gauges' })
  ).to(CANARY_DECISIONS_TOPIC, { name: 'canary-decisions-out' });
  return [KPI_WINDOWS_TOPIC, CANARY_COMMANDS_TOPIC, CANARY_DECISIONS_TOPIC].map((name) => ({
    name,
    partitions: options.partitions,
  }));
}

/**
 * A command as the judge reads it. Its key must be its rollout's
 * `tenantId/service`, or it would reach a task that does not hold the
 * rollout: a command keyed otherwise is a record error (dead-lettered).
 */
function commandInput(command: CanaryCommand, key: string | null): RolloutInput {
  const expected = rolloutKeyOf(command.tenantId, command.service);
  if (key !== expected)
    throw new CanaryCommandError(
      `a canary command must be keyed '${expected}' (tenantId/service), not '${key}'`,
    );
  return { command };
}

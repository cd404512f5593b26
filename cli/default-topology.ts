import type { CanaryDecisionSink } from '../processors/canary/canary-decision-sink.js';
import type { CanaryMetrics } from '../processors/canary/canary-metrics.js';
import type { FeatureSink } from '../processors/features/feature-sink.js';
import { type FirstPipelineOptions, firstPipelineTopology } from '../processors/first-pipeline.js';
import type { SessionHistorySink } from '../processors/sessions/session-history-sink.js';
import { DEFAULT_VALIDATION_LIMITS } from '../processors/telemetry/validate.js';
import {
  canaryCommandSerde,
  canaryDecisionSerde,
  featureUpdateSerde,
  kpiWindowSerde,
  telemetryEventSerde,
  userSessionSerde,
} from '../schemas/index.js';
import { type TopicSpec, type Topology, TopologyError } from '../topology/index.js';
import type { AppConfig } from './config.js';

/** The topology `veroai run`, `demo`, `describe` and `topics` work on: the first pipeline and the canary gate. */
export interface DefaultTopology {
  readonly topology: Topology;
  /** External topics with the partitions they get when the CLI creates them. */
  readonly topics: readonly TopicSpec[];
  readonly inputTopic: string;
}

export type DefaultTopologyOptions = Omit<FirstPipelineOptions, 'serdes' | 'sinks' | 'canary'> & {
  /** Where features and closed sessions go; without them (describe, topics) a write fails loudly. */
  readonly sinks?: FirstPipelineOptions['sinks'];
  /** Where canary decisions go, and the gate's gauges; without them (describe, topics) a write fails loudly. */
  readonly canary?: { readonly decisions: CanaryDecisionSink; readonly metrics?: CanaryMetrics };
  /** KPI window size and grace when the configuration sets none (the demo's are shorter). */
  readonly canaryDefaults?: { readonly windowMs: number; readonly graceMs: number };
};

/** KPI windows: one minute, 10 seconds of grace. */
export const DEFAULT_CANARY_WINDOWS = { windowMs: 60_000, graceMs: 10_000 } as const;

/** Sinks for a topology that is described, never run. */
const unconnected: {
  features: FeatureSink;
  sessionHistory: SessionHistorySink;
  decisions: CanaryDecisionSink;
} = {
  decisions: {
    write: () => Promise.reject(new TopologyError('this topology was built without a canary decision sink')),
  },
  features: {
    write: () => Promise.reject(new TopologyError('this topology was built without a feature sink')),
  },
  sessionHistory: {
    append: () => Promise.reject(new TopologyError('this topology was built without a session history sink')),
  },
};

export function defaultTopology(
  config: Pick<
    AppConfig,
    'SCHEMA_REGISTRY_URL' | 'MAX_EVENT_TIME_AHEAD_MS' | 'CANARY_WINDOW_MS' | 'CANARY_WINDOW_GRACE_MS'
  >,
  options: DefaultTopologyOptions = {},
): DefaultTopology {
  const serdeOptions =
    config.SCHEMA_REGISTRY_URL === undefined ? {} : { registryUrl: config.SCHEMA_REGISTRY_URL };
  const { topology, externalTopics } = firstPipelineTopology({
    ...options,
    serdes: {
      telemetry: telemetryEventSerde(serdeOptions),
      session: userSessionSerde(serdeOptions),
      feature: featureUpdateSerde(serdeOptions),
    },
    sinks: options.sinks ?? unconnected,
    validation: { ...DEFAULT_VALIDATION_LIMITS, maxAheadMs: config.MAX_EVENT_TIME_AHEAD_MS },
    canary: {
      serdes: {
        kpiWindow: kpiWindowSerde(serdeOptions),
        command: canaryCommandSerde(serdeOptions),
        decision: canaryDecisionSerde(serdeOptions),
      },
      decisions: options.canary?.decisions ?? unconnected.decisions,
      ...(options.canary?.metrics === undefined ? {} : { metrics: options.canary.metrics }),
      windowMs:
        config.CANARY_WINDOW_MS ?? options.canaryDefaults?.windowMs ?? DEFAULT_CANARY_WINDOWS.windowMs,
      windowGraceMs:
        config.CANARY_WINDOW_GRACE_MS ?? options.canaryDefaults?.graceMs ?? DEFAULT_CANARY_WINDOWS.graceMs,
    },
  });
  return { topology, topics: externalTopics, inputTopic: 'raw_events' };
}

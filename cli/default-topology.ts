import type { FeatureSink } from '../processors/features/feature-sink.js';
import { type FirstPipelineOptions, firstPipelineTopology } from '../processors/first-pipeline.js';
import type { SessionHistorySink } from '../processors/sessions/session-history-sink.js';
import { DEFAULT_VALIDATION_LIMITS } from '../processors/telemetry/validate.js';
import { featureUpdateSerde, telemetryEventSerde, userSessionSerde } from '../schemas/index.js';
import { type TopicSpec, type Topology, TopologyError } from '../topology/index.js';
import type { AppConfig } from './config.js';

/** The topology `veroai run`, `demo`, `describe` and `topics` work on: the first pipeline. */
export interface DefaultTopology {
  readonly topology: Topology;
  /** External topics with the partitions they get when the CLI creates them. */
  readonly topics: readonly TopicSpec[];
  readonly inputTopic: string;
}

export type DefaultTopologyOptions = Omit<FirstPipelineOptions, 'serdes' | 'sinks'> & {
  /** Where features and closed sessions go; without them (describe, topics) a write fails loudly. */
  readonly sinks?: FirstPipelineOptions['sinks'];
};

/** Sinks for a topology that is described, never run. */
const unconnected: { features: FeatureSink; sessionHistory: SessionHistorySink } = {
  features: {
    write: () => Promise.reject(new TopologyError('this topology was built without a feature sink')),
  },
  sessionHistory: {
    append: () => Promise.reject(new TopologyError('this topology was built without a session history sink')),
  },
};

export function defaultTopology(
  config: Pick<AppConfig, 'SCHEMA_REGISTRY_URL' | 'MAX_EVENT_TIME_AHEAD_MS'>,
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
  });
  return { topology, topics: externalTopics, inputTopic: 'raw_events' };
}

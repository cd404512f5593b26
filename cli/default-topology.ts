import type { CanaryDecisionSink } from '../processors/canary/canary-decision-sink.js';
import type { CanaryMetrics } from '../processors/canary/canary-metrics.js';
import type { FeatureSink } from '../processors/features/feature-sink.js';
import { type FirstPipelineOptions, firstPipelineTopology } from '../processors/first-pipeline.js';
import type { IncidentSink } from '../processors/incidents/incident-sink.js';
import type { SecurityMetrics } from '../processors/incidents/security-metrics.js';
import type { SessionHistorySink } from '../processors/sessions/session-history-sink.js';
import { DEFAULT_VALIDATION_LIMITS } from '../processors/telemetry/validate.js';
import {
  canaryCommandSerde,
  canaryDecisionSerde,
  featureUpdateSerde,
  kpiWindowSerde,
  type SecurityIncident,
  securitySerdes,
  telemetryEventSerde,
  userSessionSerde,
} from '../schemas/index.js';
import { type TopicSpec, type Topology, TopologyError } from '../topology/index.js';
import type { AppConfig } from './config.js';

/** The topology `veroai run`, `demo`, `describe` and `topics` work on: the first pipeline, the canary gate and security operations. */
export interface DefaultTopology {
  readonly topology: Topology;
  /** External topics with the partitions they get when the CLI creates them. */
  readonly topics: readonly TopicSpec[];
  readonly inputTopic: string;
}

export type DefaultTopologyOptions = Omit<
  FirstPipelineOptions,
  'serdes' | 'sinks' | 'canary' | 'security'
> & {
  /** Where features and closed sessions go; without them (describe, topics) a write fails loudly. */
  readonly sinks?: FirstPipelineOptions['sinks'];
  /** Where canary decisions go, and the gate's gauges; without them (describe, topics) a write fails loudly. */
  readonly canary?: { readonly decisions: CanaryDecisionSink; readonly metrics?: CanaryMetrics };
  /** Where incidents go, the SOC's metrics, and who hears of each incident written (triage, the demo's enforcer). */
  readonly security?: {
    readonly incidents: IncidentSink;
    readonly metrics?: SecurityMetrics;
    readonly onIncident?: (incident: SecurityIncident) => void;
  };
  /** Whether remediation commands are dry runs when REMEDIATION_DRY_RUN is not set. Default true. */
  readonly remediationDryRun?: boolean;
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
  incidents: IncidentSink;
} = {
  incidents: {
    write: () => Promise.reject(new TopologyError('this topology was built without an incident sink')),
  },
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
    | 'SCHEMA_REGISTRY_URL'
    | 'MAX_EVENT_TIME_AHEAD_MS'
    | 'CANARY_WINDOW_MS'
    | 'CANARY_WINDOW_GRACE_MS'
    | 'SECURITY_WINDOW_MS'
    | 'SECURITY_WINDOW_GRACE_MS'
    | 'REMEDIATION_DRY_RUN'
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
    security: {
      serdes: securitySerdes(serdeOptions),
      incidents: options.security?.incidents ?? unconnected.incidents,
      ...(options.security?.metrics === undefined ? {} : { metrics: options.security.metrics }),
      ...(options.security?.onIncident === undefined ? {} : { onIncident: options.security.onIncident }),
      windowMs: config.SECURITY_WINDOW_MS,
      graceMs: config.SECURITY_WINDOW_GRACE_MS,
      tracker: { dryRun: config.REMEDIATION_DRY_RUN ?? options.remediationDryRun ?? true },
    },
  });
  return { topology, topics: externalTopics, inputTopic: 'raw_events' };
}

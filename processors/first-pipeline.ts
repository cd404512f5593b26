import type { FeatureUpdate, SessionSummary, TelemetryEvent } from '../schemas/index.js';
import { type Serde, type TopicSpec, type Topology, TopologyBuilder } from '../topology/index.js';
import { type CanaryGateOptions, canaryGate } from './canary/canary-gate.js';
import type { FeatureSink } from './features/feature-sink.js';
import { FEATURE_UPDATES_TOPIC, featureUpdates } from './features/feature-updates.js';
import { type SecurityOperationsOptions, securityOperations } from './incidents/security-operations.js';
import type { SessionHistorySink } from './sessions/session-history-sink.js';
import { USER_SESSIONS_TOPIC, userSessions } from './sessions/user-sessions.js';
import { cleanTelemetry, RAW_EVENTS_TOPIC } from './telemetry/clean-telemetry.js';
import type { ValidationLimits } from './telemetry/validate.js';
import type { SinkRetryOptions } from './write-batch-to-sink.js';

export interface FirstPipelineOptions {
  readonly serdes: {
    readonly telemetry: Serde<TelemetryEvent>;
    readonly session: Serde<SessionSummary>;
    readonly feature: Serde<FeatureUpdate>;
  };
  readonly sinks: {
    readonly features: FeatureSink;
    readonly sessionHistory: SessionHistorySink;
  };
  /**
   * The topic of raw events. Default `raw_events`. A run of its own (a test, a
   * replay beside the live application) reads one that no other traffic
   * shares: records of other event times would move its stream time.
   */
  readonly rawEventsTopic?: string;
  /** Event-time validity limits against each record's log timestamp (default: 5 minutes ahead, 30 days behind). */
  readonly validation?: ValidationLimits;
  /** Inactivity gap that ends a session. Default 30 minutes. */
  readonly sessionGapMs?: number;
  /** Out-of-order tolerance of a session after its end. Default 5 minutes. */
  readonly sessionGraceMs?: number;
  /** Copies of an event within this much event time are dropped. Default 1 hour. */
  readonly dedupWindowMs?: number;
  /** How sink writes are retried, and where their failures are reported. */
  readonly sinkRetry?: SinkRetryOptions;
  /** The canary KPI gate on the same clean telemetry (processors/canary), when given. */
  readonly canary?: Omit<CanaryGateOptions, 'partitions' | 'retry'>;
  /** Security operations on the same clean telemetry (processors/anomaly, processors/incidents), when given. */
  readonly security?: Omit<SecurityOperationsOptions, 'partitions' | 'retry'>;
}

export interface FirstPipeline {
  readonly topology: Topology;
  /** The input and output topics the application expects to exist (internal topics it creates itself). */
  readonly externalTopics: readonly TopicSpec[];
}

/** Partitions of the pipeline's external topics: one task per partition per stage. */
export const FIRST_PIPELINE_PARTITIONS = 3;

/**
 * The first pipeline: `raw_events` → clean telemetry (validate, normalise, key by
 * user, de-duplicate) → user sessions (`user_sessions` + session history sink)
 * and feature views (`feature_updates` + feature sink); with `canary`, the
 * canary KPI gate too (`kpi_windows`, `canary_commands` → `canary_decisions`); with
 * `security`, security operations (`anomaly_scores`, `security_incidents`,
 * `remediation_commands`, from `remediation_results` and `incident_commands`).
 * @example
 * const { topology, externalTopics } = firstPipelineTopology({ serdes, sinks });
 * await transport.ensureTopics(externalTopics);
 * const app = new StreamsApplication(topology, { applicationId: 'veroai', transport });
 */
export function firstPipelineTopology(options: FirstPipelineOptions): FirstPipeline {
  const builder = new TopologyBuilder();
  const events = cleanTelemetry(builder, {
    telemetrySerde: options.serdes.telemetry,
    ...(options.rawEventsTopic === undefined ? {} : { topic: options.rawEventsTopic }),
    limits: options.validation,
    dedupWindowMs: options.dedupWindowMs,
  });
  const sessions = userSessions(events, {
    sessionSerde: options.serdes.session,
    history: options.sinks.sessionHistory,
    inactivityGapMs: options.sessionGapMs,
    graceMs: options.sessionGraceMs,
    retry: options.sinkRetry,
  });
  featureUpdates(builder, events, sessions, {
    telemetrySerde: options.serdes.telemetry,
    featureSerde: options.serdes.feature,
    sink: options.sinks.features,
    retry: options.sinkRetry,
  });
  const canaryTopics =
    options.canary === undefined
      ? []
      : canaryGate(builder, events, {
          ...options.canary,
          partitions: FIRST_PIPELINE_PARTITIONS,
          retry: options.sinkRetry,
        });
  const securityTopics =
    options.security === undefined
      ? []
      : securityOperations(builder, events, {
          ...options.security,
          partitions: FIRST_PIPELINE_PARTITIONS,
          retry: options.sinkRetry,
        });
  return {
    topology: builder.build(),
    externalTopics: [
      ...[options.rawEventsTopic ?? RAW_EVENTS_TOPIC, USER_SESSIONS_TOPIC, FEATURE_UPDATES_TOPIC].map(
        (name) => ({
          name,
          partitions: FIRST_PIPELINE_PARTITIONS,
        }),
      ),
      ...canaryTopics,
      ...securityTopics,
    ],
  };
}

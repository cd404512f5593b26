import type {
  AnomalyScore,
  IncidentCommand,
  RemediationCommand,
  RemediationResult,
  SecurityIncident,
  TelemetryEvent,
} from '../../schemas/index.js';
import {
  type KStream,
  type Serde,
  Serdes,
  type TopicSpec,
  type TopologyBuilder,
  TopologyError,
} from '../../topology/index.js';
import { ANOMALY_SCORES_TOPIC, anomalyScores } from '../anomaly/behaviour-anomalies.js';
import type { BehaviourScorerOptions } from '../anomaly/behaviour-scorer.js';
import { type SinkRetryOptions, writeBatchToSink } from '../write-batch-to-sink.js';
import type { IncidentSink } from './incident-sink.js';
import {
  entityKeyOfIncident,
  type IncidentInput,
  type IncidentOutput,
  type IncidentTrackerOptions,
  incidentTracker,
  SECURITY_INCIDENTS_STORE,
  type TrackedEntity,
} from './incident-tracker.js';
import type { SecurityMetrics } from './security-metrics.js';

export const SECURITY_INCIDENTS_TOPIC = 'security_incidents';
export const REMEDIATION_COMMANDS_TOPIC = 'remediation_commands';
export const REMEDIATION_RESULTS_TOPIC = 'remediation_results';
export const INCIDENT_COMMANDS_TOPIC = 'incident_commands';

export interface SecurityOperationsOptions {
  readonly serdes: {
    readonly score: Serde<AnomalyScore>;
    readonly incident: Serde<SecurityIncident>;
    readonly command: Serde<RemediationCommand>;
    readonly result: Serde<RemediationResult>;
    readonly close: Serde<IncidentCommand>;
  };
  /** Where incidents are written for the API. */
  readonly incidents: IncidentSink;
  /** Partitions of the security topics and of the tracker's repartition topics (co-partitioned with the scores). */
  readonly partitions: number;
  /** Behaviour window size. Default 30 seconds. */
  readonly windowMs?: number;
  /** Behaviour window grace. Default 5 seconds. */
  readonly graceMs?: number;
  readonly scorer?: BehaviourScorerOptions;
  readonly tracker?: Omit<IncidentTrackerOptions, 'windowMs'>;
  readonly metrics?: SecurityMetrics;
  /** Called with each incident once it is written (e.g. to queue a triage note); must not block. */
  readonly onIncident?: (incident: SecurityIncident) => void;
  readonly retry?: SinkRetryOptions;
}

/**
 * Security operations on the clean telemetry: behaviour windows scored to
 * `anomaly_scores` (processors/anomaly), then the incident tracker, which
 * reads the scores with `remediation_results` and `incident_commands`
 * (re-keyed by the entity their incident id names, co-partitioned with the
 * scores), writes each incident's state to the incident sink and
 * `security_incidents`, and remediations to `remediation_commands`.
 * Returns the external topics it reads and writes.
 */
export function securityOperations(
  builder: TopologyBuilder,
  events: KStream<string, TelemetryEvent>,
  options: SecurityOperationsOptions,
): TopicSpec[] {
  const { serdes, metrics } = options;
  const windowMs = options.windowMs ?? 30_000;
  const inputSerde = Serdes.json<IncidentInput>();
  /** A topic of records about an incident, re-keyed by the entity its id names (co-partitioned with the scores). */
  const byEntity = <V extends { readonly incidentId: string }>(
    topic: string,
    serde: Serde<V>,
    name: string,
    toInput: (value: V) => IncidentInput,
  ) =>
    builder
      .stream(topic, { key: Serdes.string, value: serde, name })
      .map(
        (value) => {
          const key = entityKeyOfIncident(value.incidentId);
          if (key === undefined)
            throw new TopologyError(
              `'${value.incidentId}' is not an incident id (<base64url entity>.<kind>.<time>)`,
            );
          return { key, value: toInput(value) };
        },
        { name: `${name}-by-entity`, key: Serdes.string as Serde<string>, value: inputSerde },
      )
      .repartition({ name: `${name}-by-entity`, partitions: options.partitions });

  const scores = anomalyScores(builder, events, {
    ...options.scorer,
    scoreSerde: serdes.score,
    windowMs,
    graceMs: options.graceMs,
  }).mapValues((score) => ({ score }) as IncidentInput, { name: 'scored-window-input', value: inputSerde });
  const results = byEntity(REMEDIATION_RESULTS_TOPIC, serdes.result, 'remediation-results', (result) => ({
    result,
  }));
  const closes = byEntity(INCIDENT_COMMANDS_TOPIC, serdes.close, 'incident-commands', (close) => ({ close }));

  builder.addStateStore(SECURITY_INCIDENTS_STORE, {
    key: Serdes.string,
    value: Serdes.json<TrackedEntity>(),
  });
  const outputs = scores
    .merge(results, { name: 'incident-inputs' })
    .merge(closes, { name: 'incident-inputs-and-closes' })
    .process(incidentTracker({ ...options.tracker, windowMs }), {
      name: 'track-incidents',
      stores: [SECURITY_INCIDENTS_STORE],
      key: Serdes.string as Serde<string>,
      value: Serdes.json<IncidentOutput>(),
    });
  const branches = outputs
    .split({ name: 'incident-outputs' })
    .branch((o) => 'incident' in o, 'incidents')
    .defaultBranch('commands');
  const incidents = branches
    .incidents!.mapValues((o) => (o as { incident: SecurityIncident }).incident, {
      name: 'incident-record',
      value: serdes.incident,
    })
    .process(
      writeBatchToSink<string, SecurityIncident>(
        'security-incidents',
        async (written) => {
          for (const incident of written) await options.incidents.write(incident);
        },
        options.retry,
      ),
      { name: 'write-security-incidents', keyPreserving: true, value: serdes.incident },
    );
  const reported =
    metrics === undefined && options.onIncident === undefined
      ? incidents
      : incidents.peek(
          (incident) => {
            metrics?.incident(incident);
            options.onIncident?.(incident);
          },
          { name: 'incident-reported' },
        );
  reported.to(SECURITY_INCIDENTS_TOPIC, { name: 'security-incidents-out' });
  const commands = branches.commands!.mapValues((o) => (o as { command: RemediationCommand }).command, {
    name: 'remediation-command-record',
    value: serdes.command,
  });
  (metrics === undefined
    ? commands
    : commands.peek((c) => metrics.command(c), { name: 'remediation-counted' })
  ).to(REMEDIATION_COMMANDS_TOPIC, { name: 'remediation-commands-out' });
  return [
    ANOMALY_SCORES_TOPIC,
    SECURITY_INCIDENTS_TOPIC,
    REMEDIATION_COMMANDS_TOPIC,
    REMEDIATION_RESULTS_TOPIC,
    INCIDENT_COMMANDS_TOPIC,
  ].map((name) => ({ name, partitions: options.partitions }));
}

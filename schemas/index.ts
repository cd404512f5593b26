/** Avro schemas of the platform's topics, their codec and the schema registry client. */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Serde } from '../topology/index.js';
import { avroSerde, type SchemaRegistryClient } from './avro-serde.js';
import type { CanaryCommand, CanaryDecision, KpiWindow } from './canary.js';
import type { FeatureUpdate } from './feature-update.js';
import type {
  AnomalyScore,
  IncidentCommand,
  RemediationCommand,
  RemediationResult,
  SecurityIncident,
} from './security.js';
import type { TelemetryEvent } from './telemetry-event.js';
import type { SessionSummary } from './user-session.js';

export { type AvroSerdeOptions, avroSerde, type SchemaRegistryClient } from './avro-serde.js';
export * from './canary.js';
export {
  type CatalogEntry,
  defaultCatalog,
  SchemaCatalog,
  type SchemaCatalogOptions,
  schemaIdOf,
} from './catalog.js';
export * from './feature-update.js';
export * from './security.js';
export * from './telemetry-event.js';
export * from './user-session.js';

const registries = new Map<string, SchemaRegistryClient>();

/** A Confluent Schema Registry client per URL, shared by the serdes that use it. */
export function schemaRegistry(url: string): SchemaRegistryClient {
  let client = registries.get(url);
  if (client === undefined) {
    client = new SchemaRegistry({ host: url }) as unknown as SchemaRegistryClient;
    registries.set(url, client);
  }
  return client;
}

export interface TopicSerdeOptions {
  /** Confluent Schema Registry URL; without it the local catalog of schemas/ assigns schema ids. */
  readonly registryUrl?: string | undefined;
}

function catalogOrRegistry<T>(typeName: string, options: TopicSerdeOptions): Serde<T> {
  return avroSerde<T>(
    typeName,
    options.registryUrl === undefined ? {} : { registry: schemaRegistry(options.registryUrl) },
  );
}

/** The serde of `raw_events` values: registry-backed when a URL is given, else the local catalog. */
export function telemetryEventSerde(options: TopicSerdeOptions = {}): Serde<TelemetryEvent> {
  return catalogOrRegistry('TelemetryEvent', options);
}

/** The serde of `user_sessions` values (schemas/user_session.avsc): one closed session. */
export function userSessionSerde(options: TopicSerdeOptions = {}): Serde<SessionSummary> {
  return catalogOrRegistry('UserSession', options);
}

/** The serde of `feature_updates` values (schemas/feature_update.avsc): one view of one entity. */
export function featureUpdateSerde(options: TopicSerdeOptions = {}): Serde<FeatureUpdate> {
  return catalogOrRegistry('FeatureUpdate', options);
}

/** The serde of `kpi_windows` values (schemas/kpi_window.avsc): one closed KPI window. */
export function kpiWindowSerde(options: TopicSerdeOptions = {}): Serde<KpiWindow> {
  return catalogOrRegistry('KpiWindow', options);
}

/** The serde of `canary_commands` values (schemas/canary_command.avsc). */
export function canaryCommandSerde(options: TopicSerdeOptions = {}): Serde<CanaryCommand> {
  return catalogOrRegistry('CanaryCommand', options);
}

/** The serde of `canary_decisions` values (schemas/canary_decision.avsc). */
export function canaryDecisionSerde(options: TopicSerdeOptions = {}): Serde<CanaryDecision> {
  return catalogOrRegistry('CanaryDecision', options);
}

/** The serde of `anomaly_scores` values (schemas/anomaly_score.avsc): one entity's behaviour window, scored. */
export function anomalyScoreSerde(options: TopicSerdeOptions = {}): Serde<AnomalyScore> {
  return catalogOrRegistry('AnomalyScore', options);
}

/** The serde of `security_incidents` values (schemas/security_incident.avsc). */
export function securityIncidentSerde(options: TopicSerdeOptions = {}): Serde<SecurityIncident> {
  return catalogOrRegistry('SecurityIncident', options);
}

/** The serde of `remediation_commands` values (schemas/remediation_command.avsc). */
export function remediationCommandSerde(options: TopicSerdeOptions = {}): Serde<RemediationCommand> {
  return catalogOrRegistry('RemediationCommand', options);
}

/** The serde of `remediation_results` values (schemas/remediation_result.avsc). */
export function remediationResultSerde(options: TopicSerdeOptions = {}): Serde<RemediationResult> {
  return catalogOrRegistry('RemediationResult', options);
}

/** The serde of `incident_commands` values (schemas/incident_command.avsc). */
export function incidentCommandSerde(options: TopicSerdeOptions = {}): Serde<IncidentCommand> {
  return catalogOrRegistry('IncidentCommand', options);
}

/** The serdes of the security topics, as `securityOperations` takes them (processors/incidents). */
export function securitySerdes(options: TopicSerdeOptions = {}) {
  return {
    score: anomalyScoreSerde(options),
    incident: securityIncidentSerde(options),
    command: remediationCommandSerde(options),
    result: remediationResultSerde(options),
    close: incidentCommandSerde(options),
  };
}

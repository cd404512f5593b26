/** The domain processors' public surface: the first pipeline, its contracts and its building blocks. */

export type { SessionSummary } from '../schemas/index.js';
export { FEATURE_VIEWS, type FeatureUpdate, type FeatureView, tenantOfEntity } from '../schemas/index.js';
export { ENDPOINT_HEALTH_STORE, endpointEntityOf } from './features/endpoint-health.js';
export type { FeatureSink } from './features/feature-sink.js';
export { FEATURE_UPDATES_TOPIC } from './features/feature-updates.js';
export { TENANT_USAGE_STORE } from './features/tenant-usage.js';
export { USER_ACTIVITY_STORE } from './features/user-activity.js';
export {
  FIRST_PIPELINE_PARTITIONS,
  type FirstPipeline,
  type FirstPipelineOptions,
  firstPipelineTopology,
} from './first-pipeline.js';
export { type SessionAggregate, sessionSummaryOf } from './sessions/session-aggregate.js';
export type { SessionHistorySink } from './sessions/session-history-sink.js';
export { USER_SESSIONS_STORE, USER_SESSIONS_TOPIC } from './sessions/user-sessions.js';
export { EVENT_IDS_STORE, RAW_EVENTS_TOPIC } from './telemetry/clean-telemetry.js';
export { userKeyOf } from './telemetry/user-key.js';
export { DEFAULT_VALIDATION_LIMITS, InvalidEventError, type ValidationLimits } from './telemetry/validate.js';
export type { SinkFailure, SinkRetryOptions } from './write-batch-to-sink.js';

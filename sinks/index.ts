/**
 * Where results leave the engine. The Redis feature store, session history,
 * canary decisions and security incidents implement the processors' sink
 * contracts (FeatureSink, SessionHistorySink, CanaryDecisionSink,
 * IncidentSink) and the readers the query API serves from.
 */
export {
  canaryDecisionOrder,
  canaryStatusRank,
  incidentStatusRank,
  isFinalIncidentStatus,
  type LatestStateOrder,
  securityIncidentOrder,
  supersedes,
  supersedesIn,
} from './latest-state-order.js';
export {
  type CanaryDecisionReader,
  type DependencyProbe,
  type FeatureLookup,
  type FeatureReader,
  type IncidentQuery,
  type IncidentReader,
  incidentMatches,
  type SessionHistoryReader,
  type StoredFeatures,
  type StoredSecurityIncident,
} from './readers.js';
export { RedisCanaryDecisions, type RedisCanaryDecisionsOptions } from './redis/canary-decisions.js';
export {
  API_REDIS_COMMAND_TIMEOUT_MS,
  type ConnectRedisOptions,
  connectRedis,
  deleteKeysWithPrefix,
  type RedisClient,
  redisProbe,
  SINK_REDIS_COMMAND_TIMEOUT_MS,
} from './redis/connection.js';
export { EVENT_TIME_FIELD, RedisFeatureStore, type RedisFeatureStoreOptions } from './redis/feature-store.js';
export {
  DEFAULT_FINAL_INCIDENT_TTL_MS,
  DEFAULT_MAX_INCIDENTS_PER_INDEX,
  MAX_STORED_TRIAGE_NOTE_CHARS,
  RedisSecurityIncidents,
  type RedisSecurityIncidentsOptions,
} from './redis/security-incidents.js';
export { RedisSessionHistory, type RedisSessionHistoryOptions } from './redis/session-history.js';

/**
 * Where results leave the engine. The Redis feature store, session history
 * and canary decisions implement the processors' sink contracts
 * (FeatureSink, SessionHistorySink, CanaryDecisionSink) and the readers the
 * query API serves from.
 */
export { canaryStatusRank, supersedes } from './canary-decision-order.js';
export type {
  CanaryDecisionReader,
  DependencyProbe,
  FeatureLookup,
  FeatureReader,
  SessionHistoryReader,
  StoredFeatures,
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
export { RedisSessionHistory, type RedisSessionHistoryOptions } from './redis/session-history.js';

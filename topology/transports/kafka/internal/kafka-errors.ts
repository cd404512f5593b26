/**
 * What kafkajs' errors mean to the engine: the brokers unreachable or not
 * serving yet, a producer fenced, an error worth retrying; the error that
 * makes kafkajs rejoin its group; a consumer's crash as the engine's error
 * catalogue reports it.
 */
import kafkajs from 'kafkajs';
import { VeroaiError } from '../../../errors.js';

/**
 * kafkajs is CommonJS and spreads its error classes into its exports, which
 * Node's ESM loader cannot see as named exports (`import { KafkaJSError }`
 * fails to link outside vitest, e.g. `veroai` under tsx): they are read from
 * the default export.
 */
const { KafkaJSError } = kafkajs;

/** True for an error kafkajs marks as retriable (e.g. a topic created a moment ago, still electing its leaders). */
export function isRetriable(error: unknown): boolean {
  return (error as { retriable?: boolean }).retriable === true;
}

/**
 * True for a transaction refused because a newer producer with the same
 * transactional id exists: the task migrated to another instance.
 */
export function isFenced(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const type = (e as { type?: string }).type;
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED') return true;
    if (/fenced/i.test(e.message)) return true;
  }
  return false;
}

/** An error kafkajs takes for a rebalance in progress: it rejoins the group (onJoinPrepare first). */
export function rejoinError(): Error {
  return Object.assign(new KafkaJSError('a task migrated: rejoining the group', { retriable: true }), {
    type: 'REBALANCE_IN_PROGRESS',
  });
}

/** kafkajs' error names that mean the brokers could not be reached (anywhere in an error's causes). */
const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
]);

/**
 * Kafka's answers of a broker that is not ready to serve yet, as one is
 * after a restart: its coordinators loading their state, leaders not elected,
 * a transaction of the previous session still being completed.
 */
const NOT_READY = new Set([
  'GROUP_LOAD_IN_PROGRESS',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'BROKER_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'REQUEST_TIMED_OUT',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'CONCURRENT_TRANSACTIONS',
]);

/** The message of Kafka's NOT_COORDINATOR_FOR_GROUP in kafkajs. */
const NOT_COORDINATOR_MESSAGE = 'This is not the correct coordinator for this group';

/**
 * True when the error, or one of its causes, is kafkajs failing to reach the
 * brokers, or a broker answering that it cannot serve yet (after kafkajs'
 * own retries): the brokers are down, or not back.
 */
export function isUnreachable(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (UNREACHABLE.has(e.name) || NOT_READY.has((e as { type?: string }).type ?? '')) return true;
    // kafkajs' group join rethrows NOT_COORDINATOR_FOR_GROUP as a plain KafkaJSError of the same message,
    // without its type or cause (consumerGroup.js joinAndSync)
    if (e.message === NOT_COORDINATOR_MESSAGE) return true;
  }
  return false;
}

/** The consumer's crash, as the application reports it: what happened and what to do. */
export function consumerCrash(groupId: string, error: unknown): VeroaiError {
  let root: unknown = error;
  for (let e: unknown = error; e instanceof Error; e = e.cause) root = e;
  const reason = root instanceof Error ? root.message : String(root);
  return isUnreachable(error)
    ? new VeroaiError(
        'VEROAI_ERR_KAFKA_UNREACHABLE',
        `lost the Kafka brokers: the consumer of group '${groupId}' gave up (${reason}) and left its group`,
        {
          hint: 'check that Kafka is up and reachable at KAFKA_BROKERS, then start again: uncommitted input is reprocessed',
          cause: error,
        },
      )
    : new VeroaiError(
        'VEROAI_ERR_CONSUMER_CRASHED',
        `the Kafka consumer of group '${groupId}' crashed (${reason}) and left its group`,
        { hint: 'start again once the cause is fixed: uncommitted input is reprocessed', cause: error },
      );
}

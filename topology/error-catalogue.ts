/**
 * Every error code a user, an operator or an API client can see, in one
 * table shared by the engine, the sinks, the query API and the CLI: what the
 * code means, the HTTP status it gets when it reaches the API, the default
 * hint (what to do), and whether trying again later can succeed.
 *
 * `retriable` is a property of the cause, not of a caller's policy: a sink
 * retries a retriable failure (Redis unreachable) until its outage budget is
 * spent, and dead-letters the record of a failure that is not (Redis refused
 * the value); an API client may retry a retriable 503.
 */
export interface CatalogueEntry {
  /** What went wrong, in a sentence (README and `veroai describe` material). */
  readonly meaning: string;
  /** HTTP status when the error reaches the query API. */
  readonly status: number;
  /** True when the same operation can succeed later without any change to the data. */
  readonly retriable: boolean;
  /** What to do about it, unless the error carries a more specific hint. */
  readonly hint?: string;
  /**
   * Raised while processing, it is not the record's fault: the task fails
   * and its batch is not committed (a restart restores the state and
   * reprocesses it), instead of the record going to the dead-letter topic.
   */
  readonly failsTask?: boolean;
}

export const ERROR_CATALOGUE = {
  // configuration and start-up
  VEROAI_ERR_CONFIG: {
    meaning:
      'a configuration value is missing or malformed; the message names the variable and the expected form',
    status: 500,
    retriable: false,
  },
  VEROAI_ERR_TOPOLOGY: {
    meaning: 'the topology was built wrongly (missing serde, duplicate name, missing topic)',
    status: 500,
    retriable: false,
  },
  VEROAI_ERR_REDIS_UNREACHABLE: {
    meaning: 'Redis did not answer at start-up',
    status: 503,
    retriable: true,
    hint: 'start Redis or point REDIS_URL at a running instance',
  },

  VEROAI_ERR_KAFKA_UNREACHABLE: {
    meaning: 'the Kafka brokers could not be reached (at start-up, or lost while running)',
    status: 503,
    retriable: true,
    hint: 'start Kafka, or point KAFKA_BROKERS at running brokers',
  },
  VEROAI_ERR_CONSUMER_CRASHED: {
    meaning: 'the Kafka consumer crashed and left its group',
    status: 500,
    retriable: false,
    hint: 'start again once the cause is fixed: uncommitted input is reprocessed',
  },
  VEROAI_ERR_PORT_IN_USE: {
    meaning: 'the query API cannot listen on API_HOST:API_PORT (in use, or not allowed)',
    status: 500,
    retriable: false,
    hint: 'stop what listens there, or set API_PORT to a free port',
  },
  VEROAI_ERR_STATE_DIR_IN_USE: {
    meaning:
      "another running process holds the application's state directory (<stateDir>/<applicationId>): two instances cannot share one",
    status: 500,
    retriable: false,
    hint: 'give each instance of an application its own STATE_DIR, or stop the other one',
  },
  VEROAI_ERR_STOP_TIMEOUT: {
    meaning: 'a stop did not finish within its deadline: what was in flight is abandoned uncommitted',
    status: 500,
    retriable: false,
    hint: 'nothing is lost: uncommitted input is reprocessed on restart; find what held the stop up (a sink or the brokers down?)',
  },

  // records: dead-lettered, the application keeps running
  VEROAI_ERR_DECODE_MAGIC_BYTE: {
    meaning: 'a record is not in the Confluent wire format (no magic byte)',
    status: 400,
    retriable: false,
    hint: 'the producer must write Avro with a schema id; the record is in the dead-letter topic',
  },
  VEROAI_ERR_DECODE_UNKNOWN_SCHEMA: {
    meaning: "a record names a schema id the registry or the local catalog does not know, or not the topic's",
    status: 400,
    retriable: false,
    hint: 'register the schema, then re-drive the record from the dead-letter topic',
  },
  VEROAI_ERR_DECODE_TRUNCATED: {
    meaning: 'a record ends before its schema says it should',
    status: 400,
    retriable: false,
  },
  VEROAI_ERR_DECODE_INVALID: {
    meaning: "a record's bytes do not decode to a valid value of its schema",
    status: 400,
    retriable: false,
  },
  VEROAI_ERR_DECODE_NULL: {
    meaning: 'a record has no value where one is required',
    status: 400,
    retriable: false,
  },
  VEROAI_ERR_SERIALIZE: {
    meaning: 'a value could not be turned into bytes for an output topic',
    status: 500,
    retriable: false,
  },
  VEROAI_ERR_PROCESSING: {
    meaning: 'a processor function threw on a record',
    status: 500,
    retriable: false,
  },
  VEROAI_ERR_LATE: {
    meaning: 'a record arrived after its window closed (routed to the late-records topic)',
    status: 500,
    retriable: false,
    hint: 'raise the grace period if such records are expected',
  },
  VEROAI_ERR_UNEXPECTED: {
    meaning: 'an error without a catalogue code (a bug or an unexpected library error)',
    status: 500,
    retriable: false,
  },

  // the engine's own infrastructure
  VEROAI_ERR_TASK_MIGRATED: {
    meaning:
      "a task's producer was fenced by another instance's: the task migrated there; this instance closes it and rejoins its group",
    status: 500,
    retriable: true,
    hint: 'nothing to do: it happens when a rebalance reaches an instance late (e.g. after a long pause)',
  },
  VEROAI_ERR_STATE_STORE: {
    meaning: 'a local state store failed (disk, corrupt entry, checkpoint)',
    status: 500,
    retriable: false,
    failsTask: true,
    hint: 'check STATE_DIR (disk space, permissions); the task restores from its changelog on restart',
  },

  // sinks (Redis feature store, session history)
  VEROAI_ERR_SINK_UNAVAILABLE: {
    meaning:
      'a sink (Redis) did not answer: connection lost or refused, command timed out, loading, read-only',
    status: 503,
    retriable: true,
    hint: 'check that Redis is reachable and not out of memory; writes are retried until SINK_MAX_OUTAGE_MS',
  },
  VEROAI_ERR_SINK_OUTAGE: {
    meaning: 'a sink stayed unavailable for longer than SINK_MAX_OUTAGE_MS: the job stops without committing',
    status: 503,
    retriable: false,
    failsTask: true,
    hint: 'bring Redis back (or raise SINK_MAX_OUTAGE_MS) and start the job again: it resumes from its last commit, nothing is lost',
  },
  VEROAI_ERR_SINK_ABORTED: {
    meaning: 'a sink write was abandoned because the application is stopping; its batch is not committed',
    status: 503,
    retriable: false,
    failsTask: true,
    hint: 'nothing to do: the batch is reprocessed on the next start',
  },
  VEROAI_ERR_SINK_DATA: {
    meaning:
      'a sink refused a value (e.g. Redis WRONGTYPE, a script error on the stored data): the record is dead-lettered',
    status: 500,
    retriable: false,
    hint: 'inspect the key named in the message (another writer may use it); re-drive the record from the dead-letter topic once fixed',
  },
  VEROAI_ERR_FEATURE_INVALID: {
    meaning:
      'a feature update cannot be written (empty entity, non-finite value, reserved name): the record is dead-lettered',
    status: 500,
    retriable: false,
  },
  VEROAI_ERR_SESSION_INVALID: {
    meaning: 'a session summary cannot be written (no tenant, user or start): the record is dead-lettered',
    status: 500,
    retriable: false,
  },

  // query API
  VEROAI_ERR_BAD_REQUEST: {
    meaning: 'malformed request: the message names the parameter or field and what was expected',
    status: 400,
    retriable: false,
    hint: 'the request schemas are at /docs',
  },
  VEROAI_ERR_UNAUTHORIZED: {
    meaning: 'missing or unknown API key',
    status: 401,
    retriable: false,
  },
  VEROAI_ERR_NOT_FOUND: {
    meaning: 'not found, or not of your tenant',
    status: 404,
    retriable: false,
  },
  VEROAI_ERR_FORBIDDEN: {
    meaning: "the API key may not do this: e.g. start a rollout of another tenant's service",
    status: 403,
    retriable: false,
    hint: "use a key of that tenant, or an admin key ('*' in API_KEYS)",
  },
  VEROAI_ERR_CONFLICT: {
    meaning:
      'the resource is not in the state the request needs, e.g. a rollout that has ended, or a canary gate asked for a verdict the rollout does not have (yet)',
    status: 409,
    retriable: true,
    hint: 'read the resource again: a canary verdict changes as its windows close',
  },
  VEROAI_ERR_UNAVAILABLE: {
    meaning: 'a backing store (Redis) is unavailable; the request was not answered',
    status: 503,
    retriable: true,
    hint: 'retry shortly',
  },
  VEROAI_ERR_INTERNAL: {
    meaning: 'internal error (logged on the server)',
    status: 500,
    retriable: false,
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The catalogue entry of a code, or undefined for a code not in the catalogue. */
export function catalogueEntry(code: string): CatalogueEntry | undefined {
  return Object.hasOwn(ERROR_CATALOGUE, code) ? ERROR_CATALOGUE[code as ErrorCode] : undefined;
}

import { catalogueEntry, type ErrorCode } from './error-catalogue.js';

export { type CatalogueEntry, catalogueEntry, ERROR_CATALOGUE, type ErrorCode } from './error-catalogue.js';

/**
 * The error every layer throws at a user: the engine, the sinks, the CLI and
 * the API. Every error a user can see has a stable code (`VEROAI_ERR_*`, see
 * ERROR_CATALOGUE), a message that says what was wrong, and where possible a
 * hint that says what to do. The HTTP status and the default hint come from
 * the catalogue entry of the code.
 */
export class VeroaiError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** HTTP status when the error reaches the API. */
  readonly status: number;

  constructor(
    code: ErrorCode | (string & {}),
    message: string,
    options: { hint?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = catalogueEntry(code);
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint ?? entry?.hint;
    this.status = options.status ?? entry?.status ?? 500;
  }

  /** Whether the same operation can succeed later unchanged (the catalogue's `retriable`; false for unknown codes). */
  get retriable(): boolean {
    return catalogueEntry(this.code)?.retriable ?? false;
  }
}

/** The bytes of a record could not be turned into a value. Always routed to the dead-letter topic. */
export class DeserializationError extends VeroaiError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, { ...options, status: 400 });
  }
}

/** A record arrived for a window that had already closed (stream time past its end plus grace). */
export class LateRecordError extends VeroaiError {
  constructor(message: string) {
    super('VEROAI_ERR_LATE', message, { hint: 'raise the grace period if such records are expected' });
  }
}

/** A value could not be turned into bytes for a sink topic. */
export class SerializationError extends VeroaiError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('VEROAI_ERR_SERIALIZE', message, options);
  }
}

/**
 * A user function (map, filter, process, ...) threw while processing a record.
 * When it threw a catalogue error (e.g. a sink refusing the value,
 * `VEROAI_ERR_SINK_DATA`), that code and hint are kept, so the dead-letter
 * headers and metrics say why; anything else is `VEROAI_ERR_PROCESSING`.
 */
export class ProcessingError extends VeroaiError {
  readonly node: string;
  constructor(node: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const known =
      cause instanceof VeroaiError && catalogueEntry(cause.code) !== undefined ? cause : undefined;
    super(known?.code ?? 'VEROAI_ERR_PROCESSING', `processor '${node}' failed: ${reason}`, {
      cause,
      hint: known?.hint ?? `check the function given to '${node}' for this record`,
    });
    this.node = node;
  }
}

/**
 * A sink refused values it was given (Redis WRONGTYPE, a script error on the
 * stored data, a value that cannot be encoded): retrying cannot help, the
 * record goes to the dead-letter topic. `valueIndex` is the position in the
 * written batch of the first refused value, when the sink knows it.
 */
export class SinkDataError extends VeroaiError {
  readonly valueIndex: number | undefined;
  constructor(
    message: string,
    options: {
      code?: 'VEROAI_ERR_SINK_DATA' | 'VEROAI_ERR_FEATURE_INVALID' | 'VEROAI_ERR_SESSION_INVALID';
      valueIndex?: number;
      hint?: string;
      cause?: unknown;
    } = {},
  ) {
    const { code = 'VEROAI_ERR_SINK_DATA', valueIndex, ...rest } = options;
    super(code, message, rest);
    this.valueIndex = valueIndex;
  }
}

/** The topology was built wrongly: a missing serde, a duplicate name, a sink without a topic. */
export class TopologyError extends VeroaiError {
  constructor(message: string, hint?: string) {
    super('VEROAI_ERR_TOPOLOGY', message, hint === undefined ? {} : { hint });
  }
}

/**
 * A task's transaction was refused because another instance's producer with
 * the same transactional id fenced it: the task migrated there (a rebalance
 * this instance learnt of late). The runtime closes the task dirty and
 * rejoins the group; the rest of the instance keeps running.
 */
export class TaskMigratedError extends VeroaiError {
  constructor(task: string, cause: unknown) {
    super('VEROAI_ERR_TASK_MIGRATED', `task ${task} migrated to another instance (its producer was fenced)`, {
      cause,
    });
  }
}

/** A configuration value is missing or malformed. The message names the variable and the expected form. */
export class ConfigError extends VeroaiError {
  constructor(message: string) {
    super('VEROAI_ERR_CONFIG', message, { status: 500 });
  }
}

export const errorCodes = {
  decodeMagicByte: 'VEROAI_ERR_DECODE_MAGIC_BYTE',
  decodeUnknownSchema: 'VEROAI_ERR_DECODE_UNKNOWN_SCHEMA',
  decodeTruncated: 'VEROAI_ERR_DECODE_TRUNCATED',
  decodeInvalid: 'VEROAI_ERR_DECODE_INVALID',
  decodeNull: 'VEROAI_ERR_DECODE_NULL',
  serialize: 'VEROAI_ERR_SERIALIZE',
  processing: 'VEROAI_ERR_PROCESSING',
  topology: 'VEROAI_ERR_TOPOLOGY',
  config: 'VEROAI_ERR_CONFIG',
} as const;

import { SinkDataError, VeroaiError } from '../../topology/errors.js';

/**
 * Error replies that say Redis cannot serve now, not that the value is wrong:
 * loading its dataset, a script running too long, a replica or a failover,
 * out of memory, persistence failing, too many clients, credentials or ACLs
 * (an operator fixes those; the data is fine). Every other error reply
 * (WRONGTYPE, `ERR` from a script on the stored data, …) is the value's.
 */
const UNAVAILABLE_REPLY =
  /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|OOM|MISCONF|NOREPLICAS|NOAUTH|NOPERM|WRONGPASS|ERR max number of clients)\b/;

/** An error reply from the server (ioredis' ReplyError), as opposed to a connection or client-side failure. */
function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/**
 * A Redis call that failed, as a catalogue error:
 * - `VEROAI_ERR_SINK_UNAVAILABLE` (retriable, the API answers 503): the
 *   connection is down or refused, a command timed out, or Redis answered
 *   that it cannot serve now (see UNAVAILABLE_REPLY);
 * - `VEROAI_ERR_SINK_DATA` (not retriable, the record is dead-lettered):
 *   Redis refused the value itself, e.g. WRONGTYPE. `valueIndex` names the
 *   value of the batch it refused, when known.
 * A VeroaiError (e.g. a value the sink refused before sending) is kept as is.
 */
export function redisFailure(doing: string, cause: unknown, valueIndex?: number): VeroaiError {
  if (cause instanceof VeroaiError) return cause;
  const reason =
    cause instanceof Error
      ? // with maxRetriesPerRequest 0 this is how ioredis fails the commands in flight when the connection drops
        cause.name === 'MaxRetriesPerRequestError'
        ? 'the connection was lost'
        : cause.message
      : String(cause);
  if (isReplyError(cause) && !UNAVAILABLE_REPLY.test(reason)) {
    return new SinkDataError(`${doing}: Redis refused the value: ${reason}`, {
      ...(valueIndex === undefined ? {} : { valueIndex }),
      cause,
    });
  }
  return new VeroaiError('VEROAI_ERR_SINK_UNAVAILABLE', `${doing} failed, Redis is unavailable: ${reason}`, {
    cause,
  });
}

/**
 * A pipeline resolves even when some of its commands failed; this turns the
 * failures into one error naming what was being done, or undefined. Any
 * unavailability makes the whole batch unavailable (it is retried whole:
 * the sinks' writes are idempotent); otherwise the first refused command
 * gives a data error with its position, which is the value's in the batch.
 */
export function failedReplies(
  results: Array<[Error | null, unknown]> | null,
  doing: string,
  /** Names the i-th command's target in a data error, e.g. its key. */
  target?: (index: number) => string,
): VeroaiError | undefined {
  if (results === null) return redisFailure(doing, new Error('the pipeline was discarded'));
  let refused: VeroaiError | undefined;
  for (let i = 0; i < results.length; i++) {
    const error = results[i]![0];
    if (error === null) continue;
    const failure = redisFailure(doing, error, i);
    if (failure.retriable) return failure;
    // a refused value: name it (its key) so that an operator can look at what is stored there
    refused ??= target === undefined ? failure : redisFailure(`${doing} (${target(i)})`, error, i);
  }
  return refused;
}

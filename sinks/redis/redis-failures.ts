import { VeroaiError } from '../../topology/errors.js';

/** A Redis call that failed (connection lost, timeout, script error), as a catalogue error the API answers 503. */
export function redisFailure(doing: string, cause: unknown): VeroaiError {
  if (cause instanceof VeroaiError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new VeroaiError('VEROAI_ERR_REDIS', `${doing} failed in Redis: ${reason}`, {
    status: 503,
    hint: 'check that Redis is reachable and not out of memory',
    cause,
  });
}

/**
 * A pipeline resolves even when some of its commands failed; this turns the
 * first failure into an error naming what was being done, or undefined.
 */
export function failedReplies(
  results: Array<[Error | null, unknown]> | null,
  doing: string,
): VeroaiError | undefined {
  if (results === null) return redisFailure(doing, new Error('the pipeline was discarded'));
  const failed = results.find(([error]) => error !== null);
  return failed === undefined ? undefined : redisFailure(doing, failed[0]);
}

import { VeroaiError } from '../../topology/errors.js';

/**
 * A pipeline resolves even when some of its commands failed; this turns the
 * first failure into an error naming what was being done, or undefined.
 */
export function failedReplies(
  results: Array<[Error | null, unknown]> | null,
  doing: string,
): VeroaiError | undefined {
  if (results === null) {
    return new VeroaiError('VEROAI_ERR_REDIS', `${doing}: the Redis pipeline was discarded`, { status: 503 });
  }
  const failed = results.find(([error]) => error !== null);
  if (failed === undefined) return undefined;
  const error = failed[0]!;
  return new VeroaiError('VEROAI_ERR_REDIS', `${doing} failed in Redis: ${error.message}`, {
    status: 503,
    hint: 'check that Redis is reachable and not out of memory',
    cause: error,
  });
}

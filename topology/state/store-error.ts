import { VeroaiError } from '../errors.js';

/**
 * A state store failed (a disk read or write, a corrupt entry): an
 * infrastructure error, not the record's fault. The runtime fails the task
 * instead of dead-lettering the record; the task is then rebuilt from its
 * changelogs.
 */
export class StoreError extends VeroaiError {
  constructor(store: string, operation: string, cause: unknown) {
    super(
      'VEROAI_ERR_STATE_STORE',
      `state store '${store}': ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        hint: 'check STATE_DIR (disk space, permissions); the task restores from its changelog on restart',
        cause,
      },
    );
  }
}

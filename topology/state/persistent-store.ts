import type { StateStore } from './store.js';

/** A store that keeps its data in local files under STATE_DIR, and survives a restart. */
export interface PersistentStore extends StateStore {
  /** Its files' directory: `<STATE_DIR>/<applicationId>/<taskId>/<store>`. */
  readonly directory: string;
  /** Opens (or creates) the files; the task calls it before restoring and processing. */
  open(): Promise<void>;
  /** Buffers one changelog record as raw bytes (no serde round trip); `flush()` writes it. */
  restoreRaw(key: Buffer, value: Buffer | null): void;
}

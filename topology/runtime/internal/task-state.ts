import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SubTopology } from '../../plan/topology.js';
import { changelogTopic } from '../../plan/topology.js';
import type { OutgoingRecord } from '../../record.js';
import { tpKey } from '../../record.js';
import { CheckpointFile } from '../../state/checkpoint-file.js';
import { RocksDbDatabase } from '../../state/rocksdb-database.js';
import type { StateStore, StoreType } from '../../state/store.js';
import { createTaskStore, type TaskStore } from '../../state/task-stores.js';
import { deleteWindowsEndedBefore } from '../../state/window-retention.js';
import type { Transport } from '../../transports/transport.js';
import type { ChangelogRestore } from '../changelog-restorer.js';

/** Stream time between two expiry sweeps of a windowed store, at least. */
const MIN_EXPIRY_INTERVAL_MS = 60_000;

export interface TaskStateOptions {
  readonly applicationId: string;
  readonly taskId: string;
  readonly partition: number;
  readonly transport: Transport;
  readonly logger: Logger;
  /** Restore only committed transactional data (exactly_once): a checkpoint is then good for one clean close only. */
  readonly readCommitted: boolean;
  /** Where persistent stores live: `<stateDir>/<applicationId>/<taskId>/<store>`. */
  readonly stateDir: string;
  readonly defaultStoreType: StoreType;
  readonly now: () => number;
  /** Where changelog records go: the task's output of the batch. */
  readonly emit: (record: OutgoingRecord) => void;
}

/**
 * A task's state stores: opening them (what each must restore from its
 * changelog), checkpoints of the persistent ones, retention of windowed
 * stores, read-ahead of a batch's keys, flushing and closing.
 */
export class TaskState {
  private readonly stores = new Map<string, TaskStore>();
  private readonly checkpointFile: CheckpointFile;
  /** `<stateDir>/<applicationId>/<taskId>`: the persistent stores' files and the checkpoint. */
  private readonly directory: string;
  /** Whether a store of the task is persistent: only then is there a directory and a checkpoint. */
  private readonly persistent: boolean;
  /** Changelog records written since the last checkpoint. */
  private changelogWrites = 0;
  /** Per windowed store, the stream time of its last expiry sweep. */
  private readonly lastExpiry = new Map<string, number>();
  /** The read-ahead of the stores keyed like the task's input (see TaskStore.prefetch). */
  private readonly readers: Array<(keys: readonly Buffer[]) => Promise<void>>;

  constructor(
    private readonly subTopology: SubTopology,
    private readonly options: TaskStateOptions,
  ) {
    const directory = join(options.stateDir, options.applicationId, options.taskId);
    this.directory = directory;
    this.checkpointFile = new CheckpointFile(directory);
    for (const spec of subTopology.stores) {
      this.stores.set(
        spec.name,
        createTaskStore(spec, {
          changelogTopic: changelogTopic(options.applicationId, spec.name),
          partition: options.partition,
          emit: (r) => {
            options.emit(r);
            this.changelogWrites += 1;
          },
          now: options.now,
          taskDirectory: directory,
          defaultStoreType: options.defaultStoreType,
        }),
      );
    }
    this.persistent = [...this.stores.values()].some((s) => s.persistent !== undefined);
    this.readers = [...this.stores.values()].flatMap((s) => (s.prefetch === undefined ? [] : [s.prefetch]));
  }

  store(name: string): StateStore | undefined {
    return this.stores.get(name)?.store;
  }

  all(): IterableIterator<TaskStore> {
    return this.stores.values();
  }

  /** Changelog records written since the last checkpoint. */
  get writesSinceCheckpoint(): number {
    return this.changelogWrites;
  }

  /**
   * Opens the stores and tells what each changelogged one must replay from
   * its topic before the first batch (see restoreChangelogs). A persistent
   * store with a checkpoint replays only the changelog after the checkpointed
   * offset; without one its files are wiped and it replays from offset 0, as
   * an in-memory store always does. Under exactly_once the checkpoint is
   * deleted once read: until the next clean close the files may hold writes
   * of aborted transactions, so a crash must lead to a full restore.
   */
  async open(): Promise<ChangelogRestore[]> {
    const { applicationId, partition, transport, readCommitted, taskId } = this.options;
    const checkpoint = this.persistent ? await this.checkpointFile.read() : new Map<string, number>();
    if (this.persistent && readCommitted) await this.checkpointFile.delete();
    const restores: ChangelogRestore[] = [];
    for (const spec of this.subTopology.stores) {
      const target = this.stores.get(spec.name)!;
      const topic = changelogTopic(applicationId, spec.name);
      if (!spec.changelog) {
        await target.persistent?.open();
        continue;
      }
      const end = (await transport.endOffsets(topic))[partition] ?? 0;
      let from = 0;
      if (target.persistent !== undefined) {
        const checkpointed = checkpoint.get(tpKey(topic, partition));
        // a checkpoint beyond the log's end belongs to a changelog that was deleted and recreated
        if (checkpointed !== undefined && checkpointed <= end) from = checkpointed;
        else await RocksDbDatabase.wipe(target.persistent.directory);
        await target.persistent.open();
      }
      restores.push({ task: taskId, store: spec.name, topic, partition, from, end, target });
    }
    if (this.persistent) await this.markUsed();
    return restores;
  }

  /** Flushes the persistent stores and records the changelog end offset each of them holds. */
  async writeCheckpoint(): Promise<void> {
    const { applicationId, partition, transport } = this.options;
    const entries: Array<{ topic: string; partition: number; offset: number }> = [];
    for (const spec of this.subTopology.stores) {
      const target = this.stores.get(spec.name)!;
      if (target.persistent === undefined || !spec.changelog) continue;
      await target.store.flush();
      const topic = changelogTopic(applicationId, spec.name);
      const offset = (await transport.endOffsets(topic))[partition] ?? 0;
      entries.push({ topic, partition, offset });
    }
    if (entries.length === 0) return;
    this.changelogWrites = 0;
    await this.checkpointFile.write(entries);
  }

  /**
   * Retention: deletes the windows of windowed stores whose end plus the
   * store's retention is behind stream time (tombstones go to the changelog
   * with the batch), so state stays bounded. A sweep reads only the windows
   * that expire (each windowed store keeps an index by window end; see
   * window-retention.ts); it runs once stream time has moved on by the
   * retention, and at least a minute, since the last one (Kafka Streams'
   * segment interval), so that each sweep deletes a batch of windows at once.
   */
  async expireWindows(streamTime: number): Promise<void> {
    for (const spec of this.subTopology.stores) {
      const retention = spec.windowRetentionMs;
      if (retention === undefined || streamTime < 0) continue;
      const last = this.lastExpiry.get(spec.name);
      if (last !== undefined && streamTime - last < Math.max(retention, MIN_EXPIRY_INTERVAL_MS)) continue;
      this.lastExpiry.set(spec.name, streamTime);
      if (last === undefined) continue;
      const store = this.stores.get(spec.name)!.store;
      const deleted = await deleteWindowsEndedBefore(store, spec.type, streamTime - retention);
      if (deleted > 0)
        this.options.logger.debug(
          { task: this.options.taskId, store: spec.name, deleted },
          'expired windows deleted',
        );
    }
  }

  /** Lets the persistent stores that can read ahead load the batch's keys, all of them at once. */
  async readAhead(records: readonly { readonly key: Buffer | null }[]): Promise<void> {
    if (this.readers.length === 0 || records.length === 0) return;
    const keys = records.flatMap((r) => (r.key === null ? [] : [r.key]));
    await Promise.all(this.readers.map((prefetch) => prefetch(keys)));
  }

  /**
   * The batch's end: the stores write what it changed, all at once (a
   * RocksDB write each, on the thread pool; each store's changelog records
   * are emitted when its flush starts, and go to a topic of its own), and
   * forget what they read ahead for it.
   */
  async flush(): Promise<void> {
    await Promise.all(
      [...this.stores.values()].map(async ({ store, persistent }) => {
        await store.flush();
        persistent?.endBatch?.();
      }),
    );
  }

  async close(): Promise<void> {
    for (const { store } of this.stores.values()) await store.close();
    if (this.persistent) await this.markUsed();
  }

  /**
   * Sets the task directory's modification time to now: the state
   * directory's cleaner (StateDirectory.removeUnownedTasks) counts its delay
   * from the last time a task of this instance opened or closed it.
   */
  private async markUsed(): Promise<void> {
    const now = new Date();
    await utimes(this.directory, now, now).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

import type { Logger } from 'pino';
import type { TaskStore } from '../state/task-stores.js';
import type { Transport } from '../transports/transport.js';
import type { RuntimeMetrics } from './metrics.js';

/** One store partition to rebuild: its changelog's records from `from` up to `end`. */
export interface ChangelogRestore {
  readonly task: string;
  readonly store: string;
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
  readonly end: number;
  readonly target: TaskStore;
}

export interface RestoreEnvironment {
  readonly transport: Transport;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  /** Replay only committed transactional data: exactly-once. */
  readonly readCommitted: boolean;
}

/** Progress of one store partition. */
interface Progress {
  readonly restore: ChangelogRestore;
  restored: number;
  /** The store's write of the previous batch, overlapped with reading the next. */
  writing: Promise<void>;
}

/**
 * Rebuilds stores from their changelogs, like Kafka Streams' changelog
 * reader: all the store partitions of one changelog topic are read together by
 * one reader (one group join, partitions fetched side by side), and the
 * topics in parallel. A persistent store writes each batch while the next is
 * fetched. Reports the remaining records per store partition and logs each
 * store partition's rate once it is restored.
 */
export async function restoreChangelogs(
  restores: readonly ChangelogRestore[],
  env: RestoreEnvironment,
): Promise<void> {
  const byTopic = new Map<string, Map<number, Progress>>();
  for (const restore of restores) {
    env.metrics.restoreRemaining(restore.store, restore.partition, Math.max(0, restore.end - restore.from));
    if (restore.from >= restore.end) continue;
    const partitions = byTopic.get(restore.topic) ?? new Map<number, Progress>();
    byTopic.set(restore.topic, partitions);
    partitions.set(restore.partition, { restore, restored: 0, writing: Promise.resolve() });
  }
  const started = Date.now();
  await Promise.all([...byTopic].map(([topic, partitions]) => restoreTopic(topic, partitions, env)));
  const seconds = Math.max((Date.now() - started) / 1000, 0.001);
  for (const restore of restores) {
    env.metrics.restoreRemaining(restore.store, restore.partition, 0);
    const restored = byTopic.get(restore.topic)?.get(restore.partition)?.restored ?? 0;
    if (restored === 0 && restore.from === 0) continue;
    env.logger.info(
      {
        task: restore.task,
        store: restore.store,
        restored,
        fromOffset: restore.from,
        endOffset: restore.end,
        recordsPerSecond: Math.round(restored / seconds),
      },
      restore.from > 0
        ? 'store restored from its checkpoint and the changelog tail'
        : 'store restored from changelog',
    );
  }
}

async function restoreTopic(
  topic: string,
  partitions: ReadonlyMap<number, Progress>,
  env: RestoreEnvironment,
): Promise<void> {
  const from = new Map([...partitions].map(([partition, p]) => [partition, p.restore.from]));
  for await (const batch of env.transport.readPartitions(topic, from, { readCommitted: env.readCommitted })) {
    const first = batch[0];
    const progress = first === undefined ? undefined : partitions.get(first.partition);
    if (progress === undefined) continue;
    const { target, store, partition, end } = progress.restore;
    for (const r of batch) {
      const pending = target.restore(r.key, r.value);
      if (pending !== undefined) await pending;
    }
    // at most one write per store waits: this batch's write overlaps the next fetch
    await progress.writing;
    progress.writing = target.store.flush();
    progress.restored += batch.length;
    env.metrics.restored(store, batch.length);
    const position = batch[batch.length - 1]!.offset + 1;
    env.metrics.restoreRemaining(store, partition, Math.max(0, end - position));
  }
  await Promise.all([...partitions.values()].map((p) => p.writing));
}

/**
 * Direct reads of a topic's partitions up to their end offsets (for state
 * restore and tools), outside the application's consumer group.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { SourceRecord } from '../../../record.js';
import { toSourceRecord } from './kafka-messages.js';

/** What a read needs of the admin client: where the partitions end, and removing its throw-away group. */
export interface ReaderAdmin {
  endOffsets(topic: string): Promise<number[]>;
  deleteGroup(groupId: string): Promise<void>;
}

/** Batches a partition reader fetches ahead of its caller, at most. */
const READ_AHEAD_BATCHES = 4;

/**
 * Reads partitions of one topic, each up to its end offset at the start of
 * the read, side by side in one consumer. kafkajs cannot assign partitions
 * without a group, so this joins a throw-away group (deleted afterwards),
 * pauses the partitions it does not want and each one it has read to the end.
 */
export async function* readPartitions(
  kafka: Kafka,
  admin: ReaderAdmin,
  topic: string,
  fromOffsets: ReadonlyMap<number, number>,
  options: { readCommitted?: boolean },
): AsyncIterable<SourceRecord[]> {
  const ends = await admin.endOffsets(topic);
  /** The end offset of each partition still being read. */
  const reading = new Map<number, number>();
  for (const [partition, from] of fromOffsets) {
    const end = ends[partition] ?? 0;
    if (from < end) reading.set(partition, end);
  }
  if (reading.size === 0) return;
  const groupId = `veroai-reader-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: !options.readCommitted,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitTimeInMs: 100,
  });
  const queue: SourceRecord[][] = [];
  let wake: (() => void) | undefined;
  /** Resolves a fetch waiting for the reader to take batches off a full queue. */
  let drained: (() => void) | undefined;
  let failure: unknown;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  let running = false;
  const finish = (partition: number) => {
    if (!reading.delete(partition)) return;
    if (running) consumer.pause([{ topic, partitions: [partition] }]);
    signal();
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        // back-pressure: fetched records wait in the queue only while the reader keeps up
        while (queue.length >= READ_AHEAD_BATCHES && reading.size > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, 1_000);
          });
          await heartbeat();
        }
        const end = reading.get(batch.partition);
        if (end === undefined) return;
        const from = fromOffsets.get(batch.partition) ?? 0;
        const records: SourceRecord[] = [];
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= end) break;
          if (offset >= from) records.push(toSourceRecord(topic, batch.partition, m));
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last !== undefined) resolveOffset(last.offset);
        if (records.length > 0) queue.push(records);
        if (last !== undefined && Number(last.offset) + 1 >= end) finish(batch.partition);
        signal();
      },
    });
    running = true;
    const unwanted = ends.map((_, p) => p).filter((p) => !reading.has(p));
    if (unwanted.length > 0) consumer.pause([{ topic, partitions: unwanted }]);
    // a batch of only transaction markers or aborted records reaches no eachBatch, but ends a batch:
    // its last offset tells how far the partition has been read
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      const { partition, lastOffset, offsetLag } = event.payload;
      const end = reading.get(partition);
      if (end !== undefined && (Number(lastOffset) + 1 >= end || offsetLag === '0')) finish(partition);
    });
    for (const partition of reading.keys())
      consumer.seek({ topic, partition, offset: String(fromOffsets.get(partition) ?? 0) });
    consumer.on(consumer.events.CRASH, (e) => {
      failure = e.payload.error;
      signal();
    });
    while (true) {
      const next = queue.shift();
      if (next !== undefined) {
        drained?.();
        drained = undefined;
        yield next;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (reading.size === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    reading.clear();
    drained?.();
    await consumer.disconnect();
    await admin.deleteGroup(groupId);
  }
}

/**
 * Reads how far transaction markers and aborted records reach from given
 * offsets, with plain Fetch requests (read_committed, no wait) to the
 * partitions' leaders: no consumer group, no join.
 *
 * kafkajs has no public fetch outside a consumer group, so this uses two of
 * its internals, both of the pinned kafkajs 2.2.4 (patches/ already patches
 * it): the client's cluster factory, which gives a cluster with the client's
 * brokers, TLS and SASL settings, and its consumer's `Batch`, which filters
 * aborted records and control records exactly as our consumers' fetches are
 * filtered (with the patched aborted-transaction filter).
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import type { PartitionTail } from '../../transport.js';

interface FetchedMessage {
  readonly offset: string;
}

interface KafkajsBatch {
  /** Committed records: aborted ones and control records filtered out. */
  readonly messages: readonly FetchedMessage[];
  /** Every record at or after the fetched offset, markers and aborted records included. */
  readonly messagesWithinOffset: readonly FetchedMessage[];
}

interface PartitionData {
  readonly partition: number;
}

interface KafkajsBroker {
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{
      topic: string;
      partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }>;
    }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: PartitionData[] }> }>;
}

interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(options: { nodeId: string }): Promise<KafkajsBroker>;
}

const requireCjs = createRequire(import.meta.url);
const Batch = requireCjs('kafkajs/src/consumer/batch.js') as new (
  topic: string,
  fetchedOffset: string,
  partitionData: PartitionData,
) => KafkajsBatch;

const READ_COMMITTED = 1;
/** Bytes read per partition per fetch: a marker is a few dozen bytes, a batch of data stops the read. */
const PARTITION_FETCH_BYTES = 256 * 1024;
/** Fetches per call at most; a longer run of aborted records is read on by the next call. */
const MAX_ROUNDS = 4;

function clusterOf(kafka: Kafka): KafkajsCluster {
  const create = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  );
  if (create === undefined)
    throw new Error('kafkajs has no private:Kafka:createCluster: this reader is written for kafkajs 2.2.4');
  const factory = (kafka as unknown as Record<symbol, (options: object) => KafkajsCluster>)[create]!;
  return factory({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED });
}

/**
 * From each partition's offset in `from`, skips transaction markers and
 * aborted records (reading up to the last stable offset): the offset of the
 * next committed record (`record: true`), or how far the read got without
 * finding one (`record: false`: the last stable offset, or as far as
 * `MAX_ROUNDS` fetches went).
 */
export async function skipTransactionMarkers(
  kafka: Kafka,
  topic: string,
  from: ReadonlyMap<number, number>,
): Promise<Map<number, PartitionTail>> {
  const out = new Map<number, PartitionTail>();
  const reading = new Map(from);
  if (reading.size === 0) return out;
  const cluster = clusterOf(kafka);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    for (let round = 0; round < MAX_ROUNDS && reading.size > 0; round++) {
      const byLeader = cluster.findLeaderForPartitions(topic, [...reading.keys()]);
      const fetched = await Promise.all(
        Object.entries(byLeader).map(async ([nodeId, partitions]) => {
          const broker = await cluster.findBroker({ nodeId });
          const request = partitions.map((partition) => ({
            partition,
            fetchOffset: String(reading.get(partition)),
            maxBytes: PARTITION_FETCH_BYTES,
          }));
          const { responses } = await broker.fetch({
            isolationLevel: READ_COMMITTED,
            maxWaitTime: 0,
            minBytes: 0,
            maxBytes: PARTITION_FETCH_BYTES * request.length,
            topics: [{ topic, partitions: request }],
          });
          return responses.flatMap((r) => r.partitions);
        }),
      );
      for (const data of fetched.flat()) {
        const offset = reading.get(data.partition);
        if (offset === undefined) continue;
        const batch = new Batch(topic, String(offset), data);
        const first = batch.messages[0];
        const last = batch.messagesWithinOffset[batch.messagesWithinOffset.length - 1];
        if (first !== undefined) {
          out.set(data.partition, { offset: Number(first.offset), record: true });
          reading.delete(data.partition);
        } else if (last === undefined || Number(last.offset) < offset) {
          // nothing at or after the offset: the read reached the last stable offset
          out.set(data.partition, { offset, record: false });
          reading.delete(data.partition);
        } else {
          reading.set(data.partition, Number(last.offset) + 1);
        }
      }
    }
    for (const [partition, offset] of reading) out.set(partition, { offset, record: false });
    return out;
  } finally {
    await cluster.disconnect();
  }
}

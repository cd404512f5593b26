/**
 * The transport's producers: plain idempotent ones, and transactional ones
 * (one per task, exactly-once) whose transaction carries the input offsets
 * and whose fencing means the task migrated (TaskMigratedError). Output is
 * cut into requests the broker accepts. Every producer open is closed with
 * the transport.
 */
import type { ICustomPartitioner, Kafka, Producer, ProducerBatch, ProducerConfig } from 'kafkajs';
import { TaskMigratedError } from '../../../errors.js';
import type { OutgoingRecord } from '../../../record.js';
import type { TransactionalProducer, TransportProducer } from '../../transport.js';
import { isFenced, isUnreachable } from './kafka-errors.js';
import { topicMessages, topicOffsets } from './kafka-messages.js';

export class KafkaProducers {
  private readonly open = new Set<Producer>();

  constructor(private readonly kafka: Kafka) {}

  async producer(): Promise<TransportProducer> {
    // idempotent: a request kafkajs retries internally is written once; the outbox sends one request at a time
    const producer = await this.connect({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    return {
      send: (records) => sendInChunks(producer, records),
      close: () => this.release(producer),
    };
  }

  async transactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    const create = async () => {
      const producer = await this.connect({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      // kafkajs sends the transactional InitProducerId only at the first transaction(): do it now, so this
      // producer fences older ones with this id, and their open transaction is aborted (or its commit
      // completed) before the task restores its state (the coordinator answers CONCURRENT_TRANSACTIONS
      // meanwhile; kafkajs retries). An abort with nothing sent ends the empty transaction client-side.
      await (await producer.transaction()).abort();
      return producer;
    };
    let producer = await create();
    return {
      sendTransaction: async (records, offsets, groupId) => {
        const transaction = await producer.transaction();
        try {
          await sendInChunks(transaction, records);
          if (offsets.length > 0) {
            await transaction.sendOffsets({ consumerGroupId: groupId, topics: topicOffsets(offsets) });
          }
          await transaction.commit();
        } catch (error) {
          // fenced: another instance owns the task now; a new producer with this id would fence it back
          if (isFenced(error)) throw new TaskMigratedError(transactionalId, error);
          // the brokers are gone: an abort cannot reach them either, and waiting for its retries only delays
          // the runtime, which closes this producer and its task (the task's next producer, with this id,
          // aborts the open transaction when it fences this one)
          if (isUnreachable(error)) throw error;
          try {
            await transaction.abort();
          } catch {
            // a producer stuck in ABORTING cannot be reused: replace it
            await this.release(producer).catch(() => undefined);
            producer = await create();
          }
          throw error;
        }
      },
      close: () => this.release(producer),
    };
  }

  /** Disconnects every producer still open. */
  async close(): Promise<void> {
    await Promise.all([...this.open].map((p) => p.disconnect()));
    this.open.clear();
  }

  private async connect(config: ProducerConfig): Promise<Producer> {
    const producer = this.kafka.producer({ ...config, createPartitioner: explicitPartition });
    await producer.connect();
    this.open.add(producer);
    return producer;
  }

  private async release(producer: Producer): Promise<void> {
    this.open.delete(producer);
    await producer.disconnect();
  }
}

/**
 * The runtime chooses every record's partition (partitioner.ts, Kafka's
 * murmur2 for keys). kafkajs' default partitioner, asked per message, filters
 * the topic's partition list before it looks at the message's partition: an
 * array per record sent (~200 bytes of garbage per output record in a
 * session count's allocation profile).
 */
const explicitPartition: ICustomPartitioner = () => (args) => args.message.partition!;

/**
 * kafkajs puts all of a request's records for one partition into one record
 * batch, and the broker rejects batches over `message.max.bytes` (1 MiB by
 * default). Output is therefore cut into requests of at most this many bytes.
 */
const MAX_REQUEST_BYTES = 768 * 1024;
const RECORD_OVERHEAD_BYTES = 70;

/** Sends the records acks=all, one request after another: concurrent sends may reach a partition out of order. */
async function sendInChunks(
  sender: { sendBatch(batch: ProducerBatch): Promise<unknown> },
  records: readonly OutgoingRecord[],
): Promise<void> {
  for (const chunk of splitBySize(records, MAX_REQUEST_BYTES))
    await sender.sendBatch({ acks: -1, topicMessages: topicMessages(chunk) });
}

function recordSize(r: OutgoingRecord): number {
  let size = RECORD_OVERHEAD_BYTES + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  if (r.headers !== undefined) for (const k in r.headers) size += k.length + r.headers[k]!.length + 8;
  return size;
}

/** Consecutive chunks of the records, each at most `maxBytes` (a single larger record gets its own chunk). */
export function splitBySize(records: readonly OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const chunks: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = recordSize(r);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

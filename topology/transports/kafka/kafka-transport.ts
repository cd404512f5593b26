import { type Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { TopologyError } from '../../errors.js';
import type { SourceRecord } from '../../record.js';
import type {
  CommitOffset,
  ConsumerOptions,
  PartitionTail,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportConsumer,
  TransportProducer,
} from '../transport.js';
import { KafkaAdmin } from './internal/kafka-admin.js';
import { KafkaConsumer } from './internal/kafka-consumer.js';
import { isUnreachable } from './internal/kafka-errors.js';
import { kafkajsLogCreator } from './internal/kafka-logging.js';
import { KafkaProducers } from './internal/kafka-producers.js';
import { readPartitions } from './internal/partition-reader.js';
import { skipTransactionMarkers } from './internal/transaction-markers.js';

export interface KafkaTransportOptions {
  readonly brokers: readonly string[];
  /** Client id shown in broker logs and quotas. Default `veroai`. */
  readonly clientId?: string;
  /** Replication factor of topics this transport creates. Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  readonly logger?: Logger;
  /** Upper bound of bytes fetched per partition per request. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
}

/**
 * The kafka transport: the runtime's log contract on kafkajs. The only module
 * of the engine that imports a Kafka client.
 *
 * kafkajs has no rebalance listener; assignment changes are read from its
 * GROUP_JOIN instrumentation event and turned into onRevoked/onAssigned calls
 * that every batch waits for, so a task always exists before its first batch.
 *
 * A front over one kafkajs client: admin operations, producers, consumers and
 * direct reads live in `internal/`, one concern a module.
 */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  readonly kafka: Kafka;
  private readonly admin: KafkaAdmin;
  private readonly producers: KafkaProducers;
  private readonly consumers = new Set<KafkaConsumer>();

  constructor(private readonly options: KafkaTransportOptions) {
    if (options.brokers.length === 0)
      throw new TopologyError(
        'the kafka transport needs at least one broker',
        'set KAFKA_BROKERS, e.g. 127.0.0.1:9092',
      );
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'veroai',
      brokers: [...options.brokers],
      logCreator: kafkajsLogCreator(options.logger),
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
    this.admin = new KafkaAdmin(this.kafka, options.replicationFactor);
    this.producers = new KafkaProducers(this.kafka);
  }

  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return this.admin.ensureTopics(specs);
  }

  unreachable(error: unknown): boolean {
    return isUnreachable(error);
  }

  partitionCount(topic: string): Promise<number | undefined> {
    return this.admin.partitionCount(topic);
  }

  producer(): Promise<TransportProducer> {
    return this.producers.producer();
  }

  transactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    return this.producers.transactionalProducer(transactionalId);
  }

  consumer(options: ConsumerOptions): TransportConsumer {
    const consumer = new KafkaConsumer(this.kafka, options, this.options.maxBytesPerPartition, () =>
      this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  endOffsets(topic: string): Promise<number[]> {
    return this.admin.endOffsets(topic);
  }

  committedOffsets(groupId: string, topic: string): Promise<Array<number | undefined>> {
    return this.admin.committedOffsets(groupId, topic);
  }

  committedPositions(groupId: string, topic: string): Promise<Array<CommitOffset | undefined>> {
    return this.admin.committedPositions(groupId, topic);
  }

  /** Plain read_committed fetches from the partitions' leaders, no group (see internal/transaction-markers.ts). */
  skipTransactionMarkers(
    topic: string,
    from: ReadonlyMap<number, number>,
  ): Promise<Map<number, PartitionTail>> {
    return skipTransactionMarkers(this.kafka, topic, from);
  }

  /** In one consumer of a throw-away group (see internal/partition-reader.ts). */
  readPartitions(
    topic: string,
    fromOffsets: ReadonlyMap<number, number>,
    options: { readCommitted?: boolean } = {},
  ): AsyncIterable<SourceRecord[]> {
    return readPartitions(this.kafka, this.admin, topic, fromOffsets, options);
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await this.producers.close();
    await this.admin.close();
  }

  /** kafkajs admin, connected once and shared. */
  connectedAdmin(): Promise<Admin> {
    return this.admin.connected();
  }
}

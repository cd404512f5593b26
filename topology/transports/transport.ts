import type { OutgoingRecord, SourceRecord, TopicPartition } from '../record.js';

/**
 * What the runtime needs of a log: topics, a producer, a consumer group. The
 * `kafka` transport maps it onto kafkajs; the `memory` transport is an
 * in-process partitioned log with the same partitioning, offsets and commit
 * semantics. The runtime never imports a Kafka client.
 */
export interface Transport {
  readonly kind: 'kafka' | 'memory';
  /** Creates the topics that do not exist; fails if an existing one has another partition count. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Partition count of a topic, or undefined if it does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  producer(): Promise<TransportProducer>;
  transactionalProducer(transactionalId: string): Promise<TransactionalProducer>;
  consumer(options: ConsumerOptions): TransportConsumer;
  /** The next offset to be written, per partition of a topic (the high watermark). */
  endOffsets(topic: string): Promise<number[]>;
  /** A consumer group's committed offsets (the next offset it reads) per partition of a topic; undefined where it committed none. */
  committedOffsets(groupId: string, topic: string): Promise<Array<number | undefined>>;
  /** Like committedOffsets, with the metadata committed beside each offset (the task's stream time). */
  committedPositions(groupId: string, topic: string): Promise<Array<CommitOffset | undefined>>;
  /**
   * From each partition's offset in `from`, skips transaction markers and
   * aborted records: where the next committed record is, or how far a bounded
   * read got without finding one. Optional: a log without transactions
   * (memory) has nothing to skip. For consumer lag net of markers.
   */
  skipTransactionMarkers?(
    topic: string,
    from: ReadonlyMap<number, number>,
  ): Promise<Map<number, PartitionTail>>;
  /**
   * Reads partitions of one topic, each from its offset in `fromOffsets` up to
   * its end offset seen when the read starts (for state restore and tools), in
   * batches of one partition each; partitions are read side by side.
   */
  readPartitions(
    topic: string,
    fromOffsets: ReadonlyMap<number, number>,
    options?: { readCommitted?: boolean },
  ): AsyncIterable<SourceRecord[]>;
  close(): Promise<void>;
  /**
   * True when `error` means the log could not be reached (kafka: the brokers
   * down, unreachable or not answering, or not serving yet after a restart:
   * coordinators loading, leaders not elected): the application rides such
   * failures out for up to its maxBrokerOutageMs. Optional: a log that cannot become
   * unreachable (memory) has none.
   */
  unreachable?(error: unknown): boolean;
}

/** What follows an offset of a partition, past transaction markers and aborted records. */
export interface PartitionTail {
  /** The first offset not known to hold only transaction markers or aborted records. */
  readonly offset: number;
  /** True: a committed record is at `offset`. False: the read stopped there, at the end of the log or of its budget. */
  readonly record: boolean;
}

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** `cleanup.policy=compact`, for changelogs. */
  readonly compacted?: boolean;
}

export interface TransportProducer {
  /** Resolves once every record is acknowledged by the log. */
  send(records: readonly OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A producer with a stable transactional id (exactly-once): the records and the
 * consumer group's input offsets are committed atomically, or not at all.
 * Creating one fences any older producer with the same id and aborts its open
 * transaction.
 */
export interface TransactionalProducer {
  /** One transaction: all records plus the input offsets, committed together. Rejects (after aborting) on failure. */
  sendTransaction(
    records: readonly OutgoingRecord[],
    offsets: readonly CommitOffset[],
    groupId: string,
  ): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Consume only committed transactional data. */
  readonly readCommitted?: boolean;
  /** Upper bound of records handed over in one batch (memory transport; kafka bounds by bytes). */
  readonly maxBatchRecords?: number;
  /** How many partitions' batches may be processed at once. */
  readonly concurrency?: number;
  /** How long the group waits for a silent member before moving its partitions (kafka). Default 30 s. */
  readonly sessionTimeoutMs?: number;
  /**
   * How long a rebalance waits for every member to rejoin (kafka). Default 60 s.
   * A member that died without leaving holds up rebalances this long.
   */
  readonly rebalanceTimeoutMs?: number;
}

export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly SourceRecord[];
}

export interface ConsumerListener {
  /** Partitions newly owned by this member; called before any of their batches. */
  onAssigned(partitions: readonly TopicPartition[]): Promise<void>;
  /** Partitions no longer owned; no batch of theirs follows. */
  onRevoked(partitions: readonly TopicPartition[]): Promise<void>;
  /**
   * The member is about to rejoin its group (a rebalance): called before it
   * rejoins, while it still owns its partitions, so it can finish and commit
   * what it processed (Kafka's onPartitionsRevoked before JoinGroup). No batch
   * is delivered until the rejoin completes. `memberLost`: the group no longer
   * knows this member (its commits would be refused).
   */
  onRebalancing?(memberLost: boolean): Promise<void>;
  /** A batch of one partition, in offset order. The next batch of that partition waits for this promise. */
  onBatch(batch: ConsumedBatch): Promise<void>;
  /**
   * The consumer failed for good after it started (kafka: the client crashed,
   * e.g. the brokers unreachable past its retries). It has left its group and
   * does not come back by itself: for the application, a fatal error.
   */
  onError?(error: unknown): void;
  /**
   * The consumer lost the log (kafka: the client crashed on a connectivity
   * error, after its own retries). True: it reconnects and rejoins its group
   * by itself, and keeps the partitions the group gives back (their batches
   * then start again from the committed offsets, so records the listener has
   * processed may come again); onJoined tells when it is back. False, or
   * without this callback: it gives up, and onError follows.
   */
  onDisconnected?(error: unknown): boolean;
  /** The member joined (or rejoined) its group: the log answers. */
  onJoined?(): void;
}

export interface CommitOffset extends TopicPartition {
  /** The next offset to read, as Kafka commits it. */
  readonly offset: number;
  /** Committed with the offset: the task's stream time, encoded as Kafka Streams encodes it (see stream-time.ts). */
  readonly metadata?: string;
}

export interface TransportConsumer {
  start(listener: ConsumerListener): Promise<void>;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /**
   * Gives up these partitions (their task migrated: another member owns it
   * now) and rejoins the group before delivering anything else, so the
   * assignment is settled by the group, not by a batch in flight. A member
   * rejoins when it is next handed a batch; `refetchFrom` (the position of
   * the task's first uncommitted record, already handed over once) makes sure
   * one comes when the task was lost outside a batch (its transaction failed
   * after the batch was handed back).
   */
  rejoin?(lost: readonly TopicPartition[], refetchFrom?: CommitOffset): void;
  /**
   * Leaves the group. The runtime calls it once its batches are done (or
   * abandoned at its stop deadline); the kafka consumer does not wait for a
   * batch still with the listener, whose offset stays unresolved.
   */
  stop(): Promise<void>;
}

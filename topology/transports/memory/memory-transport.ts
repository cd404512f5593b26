import type { OutgoingRecord, SourceRecord, TopicPartition } from '../../record.js';
import { tpKey } from '../../record.js';
import type {
  CommitOffset,
  ConsumerListener,
  ConsumerOptions,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportConsumer,
  TransportProducer,
} from '../transport.js';
import { MemoryLog } from './memory-log.js';

/**
 * The memory transport: the same contract as Kafka over an in-process log.
 * Used by the TestDriver and the no-broker demo. Transactions are not
 * simulated: a send is atomic and immediately visible.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  private readonly consumers = new Set<MemoryConsumer>();

  constructor(readonly log: MemoryLog = new MemoryLog()) {}

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) this.log.createTopic(spec);
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    return this.log.partitionCount(topic);
  }

  async producer(): Promise<TransportProducer> {
    const log = this.log;
    return {
      async send(records: readonly OutgoingRecord[]) {
        for (const r of records) log.append(r);
        if (records.length > 0) log.notify();
      },
      async close() {},
    };
  }

  /** Atomic by construction: the records and the offsets are applied in one synchronous step. */
  async transactionalProducer(_transactionalId: string): Promise<TransactionalProducer> {
    const log = this.log;
    return {
      async sendTransaction(records, offsets, groupId) {
        for (const r of records) log.append(r);
        log.commit(groupId, offsets);
        if (records.length > 0) log.notify();
      },
      async close() {},
    };
  }

  consumer(options: ConsumerOptions): TransportConsumer {
    const consumer = new MemoryConsumer(this.log, options, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    return consumer;
  }

  async endOffsets(topic: string): Promise<number[]> {
    return this.log.endOffsets(topic);
  }

  async committedOffsets(groupId: string, topic: string): Promise<Array<number | undefined>> {
    return this.log.endOffsets(topic).map((_, partition) => this.log.committed(groupId, topic, partition));
  }

  async committedPositions(groupId: string, topic: string): Promise<Array<CommitOffset | undefined>> {
    return this.log.endOffsets(topic).map((_, partition) => {
      const offset = this.log.committed(groupId, topic, partition);
      if (offset === undefined) return undefined;
      const metadata = this.log.committedMetadata(groupId, topic, partition);
      return { topic, partition, offset, ...(metadata === undefined ? {} : { metadata }) };
    });
  }

  async *readPartitions(
    topic: string,
    fromOffsets: ReadonlyMap<number, number>,
  ): AsyncIterable<SourceRecord[]> {
    for (const [partition, fromOffset] of fromOffsets) {
      const end = this.log.endOffset(topic, partition);
      for (let offset = fromOffset; offset < end; ) {
        const batch = this.log.read(topic, partition, offset, Math.min(10_000, end - offset));
        if (batch.length === 0) break;
        offset += batch.length;
        yield batch;
      }
    }
  }

  /** True when no consumer has a record it could deliver and none is inside a batch. */
  isIdle(): boolean {
    for (const c of this.consumers) if (!c.idle) return false;
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
  }
}

class MemoryConsumer implements TransportConsumer {
  private listener: ConsumerListener | undefined;
  private assignment: TopicPartition[] = [];
  private readonly positions = new Map<string, number>();
  private readonly paused = new Set<string>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  /** Serialises batches and rebalances: a rebalance waits for the batch in progress. */
  private lock: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  idle = true;

  private readonly member: {
    topics: readonly string[];
    rebalance: (assignment: TopicPartition[]) => Promise<void>;
  };

  constructor(
    private readonly log: MemoryLog,
    private readonly options: ConsumerOptions,
    private readonly onStop: () => void,
  ) {
    this.member = {
      topics: options.topics,
      rebalance: (assignment) => this.exclusive(() => this.applyAssignment(assignment)),
    };
  }

  async start(listener: ConsumerListener): Promise<void> {
    this.listener = listener;
    this.running = true;
    await this.log.join(this.options.groupId, this.member);
    // a batch the listener failed stops this member for good (the application has failed and stops it);
    // never a silent, unhandled end of the loop
    this.loop = this.run().catch(() => {
      this.running = false;
      this.idle = true;
    });
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(tpKey(tp.topic, tp.partition));
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(tpKey(tp.topic, tp.partition));
    this.wake?.();
  }

  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    this.log.commit(this.options.groupId, offsets);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.log.leave(this.options.groupId, this.member);
    await this.exclusive(() => this.applyAssignment([]));
    this.onStop();
  }

  private async applyAssignment(next: TopicPartition[]): Promise<void> {
    const nextKeys = new Set(next.map((tp) => tpKey(tp.topic, tp.partition)));
    const currentKeys = new Set(this.assignment.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked = this.assignment.filter((tp) => !nextKeys.has(tpKey(tp.topic, tp.partition)));
    const added = next.filter((tp) => !currentKeys.has(tpKey(tp.topic, tp.partition)));
    this.assignment = next;
    for (const tp of revoked) {
      this.positions.delete(tpKey(tp.topic, tp.partition));
      this.paused.delete(tpKey(tp.topic, tp.partition));
    }
    if (revoked.length > 0) await this.listener?.onRevoked(revoked);
    for (const tp of added) {
      // auto.offset.reset=earliest, as Kafka Streams sets it
      this.positions.set(
        tpKey(tp.topic, tp.partition),
        this.log.committed(this.options.groupId, tp.topic, tp.partition) ?? 0,
      );
    }
    if (added.length > 0) await this.listener?.onAssigned(added);
    this.wake?.();
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async run(): Promise<void> {
    const max = this.options.maxBatchRecords ?? 1000;
    while (this.running) {
      let delivered = false;
      // taken before reading: an append between the read and the wait must not be missed
      const seen = this.log.notifyCount;
      await this.exclusive(async () => {
        for (const tp of this.assignment) {
          const key = tpKey(tp.topic, tp.partition);
          if (this.paused.has(key) || !this.running) continue;
          const position = this.positions.get(key) ?? 0;
          const records = this.log.read(tp.topic, tp.partition, position, max);
          if (records.length === 0) continue;
          this.positions.set(key, position + records.length);
          delivered = true;
          this.idle = false;
          await this.listener!.onBatch({ topic: tp.topic, partition: tp.partition, records });
        }
      });
      if (!delivered && this.running) {
        this.idle = true;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          void this.log.nextAppend(seen).then(resolve);
        });
        this.wake = undefined;
      }
    }
    this.idle = true;
  }
}

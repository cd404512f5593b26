import { randomUUID } from 'node:crypto';
import kafkajs, {
  type Admin,
  type Batch,
  type Consumer,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { TaskMigratedError, TopologyError, VeroaiError } from '../../errors.js';
import type { Headers, OutgoingRecord, SourceRecord, TopicPartition } from '../../record.js';
import { tpKey } from '../../record.js';
import type {
  CommitOffset,
  ConsumerListener,
  ConsumerOptions,
  PartitionTail,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportConsumer,
  TransportProducer,
} from '../transport.js';
import { kafkajsLogCreator } from './kafka-logging.js';
import { skipTransactionMarkers } from './transaction-markers.js';

export interface KafkaTransportOptions {
  readonly brokers: readonly string[];
  /** Client id shown in broker logs and quotas. Default `veroai`. */
  readonly clientId?: string;
  /** Replication factor of topics this transport creates. Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  readonly logger?: Logger;
  /** Upper bound of bytes fetched per partition per request. Default 2 MiB. */
  readonly maxBytesPerPartition?: number;
}

/**
 * The kafka transport: the runtime's log contract on kafkajs. The only module
 * of the engine that imports a Kafka client.
 *
 * kafkajs has no rebalance listener; assignment changes are read from its
 * GROUP_JOIN instrumentation event and turned into onRevoked/onAssigned calls
 * that every batch waits for, so a task always exists before its first batch.
 */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  readonly kafka: Kafka;
  private admin: Promise<Admin> | undefined;
  private readonly producers = new Set<Producer>();
  private readonly consumers = new Set<KafkaConsumer>();
  private readonly partitionCache = new Map<string, number>();

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
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.connectedAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    for (const spec of specs) {
      if (!existing.has(spec.name)) continue;
      const count = await this.partitionCount(spec.name);
      if (count !== spec.partitions) {
        throw new TopologyError(
          `topic '${spec.name}' exists with ${count} partitions, but ${spec.partitions} are needed`,
          'internal topics must match their input partitions; reset the application or delete the topic',
        );
      }
    }
    if (missing.length === 0) return;
    await admin.createTopics({
      // kafkajs waits out LEADER_NOT_AVAILABLE only; a KRaft broker may not know a new topic yet either
      waitForLeaders: false,
      topics: missing.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: this.options.replicationFactor ?? -1,
        configEntries: s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
    await this.waitForLeaders(missing);
    for (const s of missing) this.partitionCache.set(s.name, s.partitions);
  }

  /** Waits until every partition of the topics has a leader the broker reports (60 s at most). */
  private async waitForLeaders(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.connectedAdmin();
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
        const ready = specs.every((spec) => {
          const partitions = topics.find((t) => t.name === spec.name)?.partitions ?? [];
          return partitions.length === spec.partitions && partitions.every((p) => p.leader >= 0);
        });
        if (ready) return;
      } catch (error) {
        if ((error as { retriable?: boolean }).retriable !== true) throw error;
      }
      if (Date.now() > deadline) {
        throw new TopologyError(
          `topics ${specs.map((s) => s.name).join(', ')} have no leader after 60 s`,
          'is the broker overloaded or missing brokers for the replication factor?',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  unreachable(error: unknown): boolean {
    return isUnreachable(error);
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    const cached = this.partitionCache.get(topic);
    if (cached !== undefined) return cached;
    const admin = await this.connectedAdmin();
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) return undefined;
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length;
    if (count !== undefined && count > 0) this.partitionCache.set(topic, count);
    return count;
  }

  async producer(): Promise<TransportProducer> {
    // idempotent: a request kafkajs retries internally is written once; the outbox sends one request at a time
    const producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    this.producers.add(producer);
    return {
      send: async (records) => {
        // one chunk after another: concurrent sends of one producer may reach a partition out of order
        for (const chunk of splitBySize(records, MAX_REQUEST_BYTES))
          await producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(chunk) });
      },
      close: async () => {
        this.producers.delete(producer);
        await producer.disconnect();
      },
    };
  }

  async transactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    const create = async () => {
      const producer = this.kafka.producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      this.producers.add(producer);
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
          for (const chunk of splitBySize(records, MAX_REQUEST_BYTES))
            await transaction.sendBatch({ acks: -1, topicMessages: toTopicMessages(chunk) });
          if (offsets.length > 0) {
            await transaction.sendOffsets({ consumerGroupId: groupId, topics: groupOffsets(offsets) });
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
            this.producers.delete(producer);
            await producer.disconnect().catch(() => undefined);
            producer = await create();
          }
          throw error;
        }
      },
      close: async () => {
        this.producers.delete(producer);
        await producer.disconnect();
      },
    };
  }

  consumer(options: ConsumerOptions): TransportConsumer {
    const consumer = new KafkaConsumer(this.kafka, options, this.options, () =>
      this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  async endOffsets(topic: string): Promise<number[]> {
    const admin = await this.connectedAdmin();
    // a topic created a moment ago may still be electing its leaders: retriable errors are retried
    for (let attempt = 1; ; attempt++) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        const out: number[] = [];
        for (const o of offsets) out[o.partition] = Number(o.high);
        return out;
      } catch (error) {
        if (attempt >= 10 || (error as { retriable?: boolean }).retriable !== true) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<Array<number | undefined>> {
    const admin = await this.connectedAdmin();
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out: Array<number | undefined> = [];
    // kafkajs reports "-1" for a partition the group has not committed
    for (const p of committed?.partitions ?? [])
      out[p.partition] = p.offset === '-1' ? undefined : Number(p.offset);
    return out;
  }

  async committedPositions(groupId: string, topic: string): Promise<Array<CommitOffset | undefined>> {
    const admin = await this.connectedAdmin();
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out: Array<CommitOffset | undefined> = [];
    for (const p of committed?.partitions ?? []) {
      out[p.partition] =
        p.offset === '-1'
          ? undefined
          : {
              topic,
              partition: p.partition,
              offset: Number(p.offset),
              ...(p.metadata ? { metadata: p.metadata } : {}),
            };
    }
    return out;
  }

  /** Plain read_committed fetches from the partitions' leaders, no group (see transaction-markers.ts). */
  skipTransactionMarkers(
    topic: string,
    from: ReadonlyMap<number, number>,
  ): Promise<Map<number, PartitionTail>> {
    return skipTransactionMarkers(this.kafka, topic, from);
  }

  /**
   * Reads partitions of one topic, each up to its end offset at the start of
   * the read, side by side in one consumer. kafkajs cannot assign partitions
   * without a group, so this joins a throw-away group (deleted afterwards),
   * pauses the partitions it does not want and each one it has read to the end.
   */
  async *readPartitions(
    topic: string,
    fromOffsets: ReadonlyMap<number, number>,
    options: { readCommitted?: boolean } = {},
  ): AsyncIterable<SourceRecord[]> {
    const ends = await this.endOffsets(topic);
    /** The end offset of each partition still being read. */
    const reading = new Map<number, number>();
    for (const [partition, from] of fromOffsets) {
      const end = ends[partition] ?? 0;
      if (from < end) reading.set(partition, end);
    }
    if (reading.size === 0) return;
    const groupId = `veroai-reader-${randomUUID()}`;
    const consumer = this.kafka.consumer({
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
      const admin = await this.connectedAdmin();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await Promise.all([...this.producers].map((p) => p.disconnect()));
    this.producers.clear();
    if (this.admin !== undefined) {
      const admin = await this.admin.catch(() => undefined);
      this.admin = undefined;
      await admin?.disconnect();
    }
  }

  /** kafkajs admin, connected once and shared. */
  async connectedAdmin(): Promise<Admin> {
    if (this.admin === undefined) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => {
        this.admin = undefined;
      });
    }
    return this.admin;
  }
}

/**
 * A group member. Batches are handed over in offset order per partition;
 * offsets are resolved only after the listener has processed the batch and are
 * committed only when the runtime says so (never by kafkajs itself).
 *
 * A crash is final unless it is the brokers going away and the listener
 * wants to ride that out (`onDisconnected`, while its application runs and
 * the outage is within its bound): kafkajs would restart any crashed consumer
 * by itself (`retry.restartOnFailure`), and an instance whose application has
 * failed would rejoin the group and hold partitions it never processes. Else
 * the consumer leaves the group (kafkajs disconnects on a crash) and the
 * crash reaches the listener's `onError`, or rejects `start()` if it
 * happened while joining. A restarted consumer reconnects and rejoins with a
 * new kafkajs consumer group (pauses re-applied, positions read from the
 * committed offsets); the listener's assignment is unchanged where the group
 * gives the same partitions back.
 */
class KafkaConsumer implements TransportConsumer {
  private readonly consumer: Consumer;
  private assignment = new Set<string>();
  /** Assignment changes not yet handled by the listener; every batch waits for them. */
  private rebalancing: Promise<void> = Promise.resolve();
  private listener: ConsumerListener | undefined;
  /** The stop in progress or done; every call of stop() returns it. */
  private stopping: Promise<void> | undefined;
  /** Resolves when stop() begins: a batch still with the listener is abandoned then. */
  private readonly abandoned: Promise<false>;
  private abandon: () => void = () => undefined;
  /** True while start() runs: a crash then is start()'s failure, not the listener's news. */
  private starting = false;
  private crashDuringStart: unknown;
  /** Set by rejoin(): no batch is delivered until the group has been rejoined. */
  private rejoinRequested = false;
  /** A restart of kafkajs' consumer loop after a crash kafkajs would not restart (see crashed). */
  private rerunTimer: NodeJS.Timeout | undefined;
  /** Partitions the runtime paused: re-paused after a restart (kafkajs forgets them with its consumer group). */
  private readonly paused = new Set<string>();

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerOptions,
    transportOptions: KafkaTransportOptions,
    private readonly onStop: () => void,
  ) {
    this.abandoned = new Promise<false>((resolve) => {
      this.abandon = () => resolve(false);
    });
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: !options.readCommitted,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: transportOptions.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
      // kafkajs' consumer default of 5 retries; a crash restarts only through the brokers' outage (see the
      // class comment)
      retry: { retries: 5, restartOnFailure: async (error) => this.restartAfter(error) },
      // patched in (patches/kafkajs+2.2.4.patch): awaited before a rejoin, while the partitions are still ours
      onJoinPrepare: async ({ memberLost }) => {
        if (this.stopping === undefined) await this.listener?.onRebalancing?.(memberLost);
      },
    });
  }

  async start(listener: ConsumerListener): Promise<void> {
    this.listener = listener;
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.rejoinRequested = false;
      this.listener?.onJoined?.();
      const next = new Set<string>();
      const owned: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) {
          next.add(tpKey(topic, partition));
          owned.push({ topic, partition });
        }
      }
      this.changeAssignment(next, owned);
      // a consumer restarted after losing the brokers is a new kafkajs consumer group, with nothing paused
      const repause = owned.filter((tp) => this.paused.has(tpKey(tp.topic, tp.partition)));
      if (repause.length > 0) this.consumer.pause(groupByTopic(repause));
    });
    this.consumer.on(this.consumer.events.CRASH, (event) =>
      this.crashed(event.payload.error, event.payload.restart),
    );
    this.starting = true;
    try {
      await this.consumer.connect();
      // auto.offset.reset=earliest, as Kafka Streams sets it: a new application reads its input from the start
      await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: true });
      // resolves even when joining the group failed: kafkajs reports that as a crash
      await this.run();
    } finally {
      this.starting = false;
    }
    if (this.crashDuringStart !== undefined) throw consumerCrash(this.options.groupId, this.crashDuringStart);
  }

  /** kafkajs' consumer loop: started by start(), and again after a crash kafkajs would not restart (see crashed). */
  private run(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.concurrency ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        // kafkajs heartbeats only between batches: a long restore or batch must keep the membership alive
        const delivered = keepingAlive(
          heartbeat,
          () => this.deliver(batch, resolveOffset, () => isRunning() && !isStale()),
          () => this.stopping !== undefined,
        );
        if (await this.unlessAbandoned(delivered)) await heartbeat();
      },
    });
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(tpKey(tp.topic, tp.partition));
    this.whileConnected(() => this.consumer.pause(groupByTopic(partitions)), partitions);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(tpKey(tp.topic, tp.partition));
    this.whileConnected(() => this.consumer.resume(groupByTopic(partitions)), partitions);
  }

  /**
   * Pauses and resumes need kafkajs' consumer group, which a consumer that
   * lost the brokers has not got until it has rejoined: meanwhile they are
   * only noted (a restart re-applies the pauses).
   */
  private whileConnected(change: () => void, partitions: readonly TopicPartition[]): void {
    if (partitions.length === 0) return;
    try {
      change();
    } catch (error) {
      if (!/not initialized/i.test((error as Error).message)) throw error;
    }
  }

  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commitOffsets(
      offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: String(o.offset),
        ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
      })),
    );
  }

  /**
   * Leaves the group. A batch still with the listener (the runtime abandoned
   * it at its stop deadline, e.g. a sink retrying through an outage) is not
   * waited for: its offset stays unresolved, and leaving takes a moment, not
   * as long as the batch. Every call returns the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.abandon();
      clearTimeout(this.rerunTimer);
      // waits for the batches kafkajs is handing over (an abandoned one returns at once), then leaves
      await this.consumer.disconnect();
      await this.rebalancing;
      this.onStop();
    })();
    return this.stopping;
  }

  rejoin(lost: readonly TopicPartition[]): void {
    // forgotten, so that the next assignment hands them over again if the group gives them back
    for (const tp of lost) this.assignment.delete(tpKey(tp.topic, tp.partition));
    this.rejoinRequested = true;
  }

  /** One batch to the listener, once the assignment changes before it are handled. */
  private async deliver(batch: Batch, resolveOffset: (offset: string) => void, current: () => boolean) {
    await this.rebalancing;
    // kafkajs rejoins on a rebalance error from a batch; positions are then read again from the commits
    if (this.rejoinRequested) throw rejoinError();
    if (!current() || batch.messages.length === 0 || this.stopping !== undefined) return;
    const key = tpKey(batch.topic, batch.partition);
    if (!this.assignment.has(key)) {
      // the GROUP_JOIN event has not reached us yet: adopt the partition now
      this.assignment.add(key);
      await this.listener!.onAssigned([{ topic: batch.topic, partition: batch.partition }]);
    }
    const records = batch.messages.map((m) => toSourceRecord(batch.topic, batch.partition, m));
    try {
      await this.listener!.onBatch({ topic: batch.topic, partition: batch.partition, records });
    } catch (error) {
      // the batch's task migrated (see rejoin): rejoin now, without resolving the batch
      if (this.rejoinRequested) throw rejoinError();
      throw error;
    }
    // abandoned meanwhile: the group is left, the batch will be read again from the last commit
    if (this.stopping === undefined) resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
  }

  /** True once `work` is done; false when stop() abandons it first (its later failure is nobody's news). */
  private async unlessAbandoned(work: Promise<void>): Promise<boolean> {
    const done = await Promise.race([work.then(() => true as const), this.abandoned]);
    if (!done) work.catch(() => undefined);
    return done;
  }

  /**
   * kafkajs' restartOnFailure: a consumer that lost the brokers reconnects
   * and rejoins (the listener keeping its tasks) when the listener wants to
   * ride the outage out; any other crash is final.
   */
  private restartAfter(error: unknown): boolean {
    if (this.stopping !== undefined || this.starting || !isUnreachable(error)) return false;
    return this.listener?.onDisconnected?.(error) ?? false;
  }

  private crashed(error: unknown, restart: boolean): void {
    // riding out an outage: it reconnects by itself (kafkajs restarts it; GROUP_JOIN tells when it is back)
    if (restart) return;
    // kafkajs has already disconnected: the member has left its group
    if (this.stopping !== undefined) return;
    if (this.starting) {
      this.crashDuringStart ??= error;
      return;
    }
    // kafkajs restarts only a crash it deems retriable (not, e.g., no group coordinator found after its
    // retries, as while a restarted broker loads): a crash of the brokers' outage is restarted here then
    if (this.restartAfter(error)) {
      this.rerunTimer = setTimeout(() => {
        if (this.stopping === undefined) void this.run().catch((e: unknown) => this.crashed(e, false));
      }, RERUN_AFTER_MS);
      return;
    }
    this.listener?.onError?.(consumerCrash(this.options.groupId, error));
  }

  private changeAssignment(next: Set<string>, owned: TopicPartition[]): void {
    const revoked = [...this.assignment].filter((k) => !next.has(k)).map(parseTp);
    const added = owned.filter((tp) => !this.assignment.has(tpKey(tp.topic, tp.partition)));
    this.assignment = next;
    this.rebalancing = this.rebalancing.then(async () => {
      if (revoked.length > 0) await this.listener!.onRevoked(revoked);
      if (added.length > 0) await this.listener!.onAssigned(added);
    });
  }
}

/**
 * True for a transaction refused because a newer producer with the same
 * transactional id exists: the task migrated to another instance.
 */
function isFenced(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const type = (e as { type?: string }).type;
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED') return true;
    if (/fenced/i.test(e.message)) return true;
  }
  return false;
}

/**
 * kafkajs is CommonJS and spreads its error classes into its exports, which
 * Node's ESM loader cannot see as named exports (`import { KafkaJSError }`
 * fails to link outside vitest, e.g. `veroai` under tsx): they are read from
 * the default export.
 */
const { KafkaJSError } = kafkajs;

/** An error kafkajs takes for a rebalance in progress: it rejoins the group (onJoinPrepare first). */
function rejoinError(): Error {
  return Object.assign(new KafkaJSError('a task migrated: rejoining the group', { retriable: true }), {
    type: 'REBALANCE_IN_PROGRESS',
  });
}

/** kafkajs' error names that mean the brokers could not be reached (anywhere in an error's causes). */
const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
]);

/**
 * Kafka's answers of a broker that is not ready to serve yet, as one is
 * after a restart: its coordinators loading their state, leaders not elected,
 * a transaction of the previous session still being completed.
 */
const NOT_READY = new Set([
  'GROUP_LOAD_IN_PROGRESS',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'BROKER_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'REQUEST_TIMED_OUT',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'CONCURRENT_TRANSACTIONS',
]);

/**
 * True when the error, or one of its causes, is kafkajs failing to reach the
 * brokers, or a broker answering that it cannot serve yet (after kafkajs'
 * own retries): the brokers are down, or not back.
 */
function isUnreachable(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (UNREACHABLE.has(e.name) || NOT_READY.has((e as { type?: string }).type ?? '')) return true;
    // kafkajs' group join rethrows NOT_COORDINATOR_FOR_GROUP as a plain KafkaJSError of the same message,
    // without its type or cause (consumerGroup.js joinAndSync)
    if (e.message === NOT_COORDINATOR_MESSAGE) return true;
  }
  return false;
}

/** The message of Kafka's NOT_COORDINATOR_FOR_GROUP in kafkajs. */
const NOT_COORDINATOR_MESSAGE = 'This is not the correct coordinator for this group';

/** The consumer's crash, as the application reports it: what happened and what to do. */
function consumerCrash(groupId: string, error: unknown): VeroaiError {
  let root: unknown = error;
  for (let e: unknown = error; e instanceof Error; e = e.cause) root = e;
  const reason = root instanceof Error ? root.message : String(root);
  return isUnreachable(error)
    ? new VeroaiError(
        'VEROAI_ERR_KAFKA_UNREACHABLE',
        `lost the Kafka brokers: the consumer of group '${groupId}' gave up (${reason}) and left its group`,
        {
          hint: 'check that Kafka is up and reachable at KAFKA_BROKERS, then start again: uncommitted input is reprocessed',
          cause: error,
        },
      )
    : new VeroaiError(
        'VEROAI_ERR_CONSUMER_CRASHED',
        `the Kafka consumer of group '${groupId}' crashed (${reason}) and left its group`,
        { hint: 'start again once the cause is fixed: uncommitted input is reprocessed', cause: error },
      );
}

/**
 * Runs `work`, sending group heartbeats every second meanwhile (kafkajs sends
 * one only if its interval has elapsed). A heartbeat that reports a rebalance
 * is left for the one after the batch, which lets kafkajs rejoin. Once
 * `stopped()`, no more heartbeats: an abandoned batch must not keep beating
 * for a group its consumer has left.
 */
async function keepingAlive<T>(
  heartbeat: () => Promise<void>,
  work: () => Promise<T>,
  stopped: () => boolean,
): Promise<T> {
  const timer = setInterval(() => {
    if (stopped()) clearInterval(timer);
    else void heartbeat().catch(() => undefined);
  }, 1_000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

function groupOffsets(
  offsets: readonly CommitOffset[],
): Array<{ topic: string; partitions: Array<{ partition: number; offset: string; metadata?: string }> }> {
  const byTopic = new Map<string, Array<{ partition: number; offset: string; metadata?: string }>>();
  for (const o of offsets) {
    const list = byTopic.get(o.topic) ?? [];
    list.push({
      partition: o.partition,
      offset: String(o.offset),
      ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
    });
    byTopic.set(o.topic, list);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

function parseTp(key: string): TopicPartition {
  const i = key.lastIndexOf(':');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

function groupByTopic(partitions: readonly TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) {
    const list = byTopic.get(tp.topic) ?? [];
    list.push(tp.partition);
    byTopic.set(tp.topic, list);
  }
  return [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps }));
}

function toSourceRecord(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    timestamp: Number(m.timestamp),
    headers: toHeaders(m.headers),
  };
}

/** How long a consumer that crashed in the brokers' outage waits before it runs again (kafkajs' own restarts: 0.3-3 s). */
const RERUN_AFTER_MS = 2_000;

/** Batches a partition reader fetches ahead of its caller, at most. */
const READ_AHEAD_BATCHES = 4;

const NO_HEADERS: Headers = Object.freeze({}) as Headers;

function toHeaders(headers: IHeaders | undefined): Headers {
  if (headers === undefined) return NO_HEADERS;
  let out: Headers | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    out ??= {};
    out[name] = first;
  }
  return out ?? NO_HEADERS;
}

/**
 * kafkajs puts all of a request's records for one partition into one record
 * batch, and the broker rejects batches over `message.max.bytes` (1 MiB by
 * default). Output is therefore cut into requests of at most this many bytes.
 */
const MAX_REQUEST_BYTES = 768 * 1024;
const RECORD_OVERHEAD_BYTES = 70;

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

function toTopicMessages(records: readonly OutgoingRecord[]) {
  const byTopic = new Map<
    string,
    Array<{
      key: Buffer | null;
      value: Buffer | null;
      partition: number;
      timestamp: string;
      headers?: IHeaders;
    }>
  >();
  for (const r of records) {
    let messages = byTopic.get(r.topic);
    if (messages === undefined) {
      messages = [];
      byTopic.set(r.topic, messages);
    }
    messages.push({
      key: r.key,
      value: r.value,
      partition: r.partition,
      timestamp: String(r.timestamp),
      headers: r.headers,
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

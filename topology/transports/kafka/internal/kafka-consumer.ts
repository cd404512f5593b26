/**
 * The application's group member on kafkajs: subscription and the batch
 * loop, assignment changes turned into the listener's rebalance hooks,
 * pause/resume, commits, and when a crashed consumer restarts or stops.
 */
import type { Batch, Consumer, Kafka } from 'kafkajs';
import type { TopicPartition } from '../../../record.js';
import { tpKey } from '../../../record.js';
import type { CommitOffset, ConsumerListener, ConsumerOptions, TransportConsumer } from '../../transport.js';
import { consumerCrash, isUnreachable, rejoinError } from './kafka-errors.js';
import { kafkaOffset, topicPartitions, toSourceRecord } from './kafka-messages.js';

/** How long a consumer that crashed in the brokers' outage waits before it runs again (kafkajs' own restarts: 0.3-3 s). */
const RERUN_AFTER_MS = 2_000;

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
export class KafkaConsumer implements TransportConsumer {
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
    /** Upper bound of bytes fetched per partition per request; undefined, 1 MiB. */
    maxBytesPerPartition: number | undefined,
    private readonly onStop: () => void,
  ) {
    this.abandoned = new Promise<false>((resolve) => {
      this.abandon = () => resolve(false);
    });
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: !options.readCommitted,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: maxBytesPerPartition ?? 1024 * 1024,
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
      if (repause.length > 0) this.consumer.pause(topicPartitions(repause));
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
    this.whileConnected(() => this.consumer.pause(topicPartitions(partitions)), partitions);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(tpKey(tp.topic, tp.partition));
    this.whileConnected(() => this.consumer.resume(topicPartitions(partitions)), partitions);
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
    await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, ...kafkaOffset(o) })));
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

  rejoin(lost: readonly TopicPartition[], refetchFrom?: CommitOffset): void {
    // forgotten, so that the next assignment hands them over again if the group gives them back
    for (const tp of lost) this.assignment.delete(tpKey(tp.topic, tp.partition));
    this.rejoinRequested = true;
    // kafkajs rejoins only when a batch (or a heartbeat) tells it to: fetching records again that were
    // handed over makes the next fetch deliver one, and the delivery rejoins. Without a commit (autoCommit
    // is off) a seek only moves the fetch position, and the rejoin reads the positions from the commits.
    if (refetchFrom !== undefined) {
      const { topic, partition, offset } = refetchFrom;
      this.whileConnected(
        () => this.consumer.seek({ topic, partition, offset: String(offset) }),
        [refetchFrom],
      );
    }
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

function parseTp(key: string): TopicPartition {
  const i = key.lastIndexOf(':');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

import type { Logger } from 'pino';
import { TaskMigratedError, TopologyError } from '../../errors.js';
import { type OutgoingRecord, tpKey } from '../../record.js';
import type { CommitOffset, TransactionalProducer, Transport } from '../../transports/transport.js';

/** A processed batch's output and input position, waiting for the task's next transaction. */
interface QueuedOutput {
  readonly records: readonly OutgoingRecord[];
  readonly offsets: readonly CommitOffset[];
  readonly committed: () => void;
  readonly failed: (error: unknown) => void;
}

/** One task's transactions: what waits for the next one, and the one in progress. */
interface TaskQueue {
  readonly taskId: string;
  readonly producer: TransactionalProducer;
  queued: QueuedOutput[];
  /** Resolves once nothing is queued or in progress. */
  running: Promise<void> | undefined;
  /** A transaction of this producer failed: nothing more is sent with it. */
  failure: { error: unknown } | undefined;
}

/**
 * exactly_once: each task's transactional producer, `transactional.id` =
 * `<applicationId>-<taskId>`, and the task's transactions.
 *
 * A task does not wait for its batch's transaction before it processes the
 * next batch: the batches processed while a transaction is in progress are
 * queued, and go together in the task's next transaction (their output in
 * processing order, each partition's latest offset), as Kafka Streams
 * commits a task's work in one transaction per commit, not per batch. The
 * runtime bounds how many unacknowledged batches a task holds (input
 * backpressure). Under at_least_once no task has a producer and closing is a
 * no-op.
 */
export class TaskTransactions {
  private readonly queues = new Map<string, TaskQueue>();

  constructor(
    private readonly transport: Transport,
    private readonly applicationId: string,
    private readonly logger: Logger,
  ) {}

  /** Creates the task's producer, which fences a zombie owner of the task and aborts its open transaction. */
  async open(taskId: string): Promise<void> {
    const producer = await this.transport.transactionalProducer(`${this.applicationId}-${taskId}`);
    this.queues.set(taskId, { taskId, producer, queued: [], running: undefined, failure: undefined });
  }

  /**
   * Queues a batch's output and input offsets for the task's next
   * transaction. Resolves once the transaction carrying them committed;
   * rejects with its failure, and every batch queued after a failure
   * rejects with the same error (the task's state ran ahead of the log: the
   * runtime closes it). `stillCurrent` is asked before each transaction: a
   * task closed meanwhile sends nothing more (a queue serves one opened
   * task, so every batch of it passes the same check; the one of the batch
   * that starts a run of transactions is used).
   */
  send(
    taskId: string,
    records: readonly OutgoingRecord[],
    offsets: readonly CommitOffset[],
    stillCurrent: () => boolean,
  ): Promise<void> {
    return new Promise<void>((committed, failed) => {
      const queue = this.queue(taskId);
      if (queue.failure !== undefined) {
        failed(queue.failure.error);
        return;
      }
      queue.queued.push({ records, offsets, committed, failed });
      queue.running ??= this.drain(queue, stillCurrent).finally(() => {
        queue.running = undefined;
      });
    });
  }

  /** Resolves once the task's transactions in progress and queued are over (at once if it has none). */
  async settled(taskId: string): Promise<void> {
    await this.queues.get(taskId)?.running;
  }

  /** Resolves once every task's transactions in progress and queued are over. */
  async allSettled(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.running));
  }

  /** Closes the task's producer, if it has one; a failure is logged. */
  async close(taskId: string): Promise<void> {
    const queue = this.queues.get(taskId);
    this.queues.delete(taskId);
    await queue?.producer
      .close()
      .catch((e) => this.logger.warn({ err: e, task: taskId }, 'closing the task producer failed'));
  }

  /** Sends what is queued, one transaction at a time, until nothing is. */
  private async drain(queue: TaskQueue, stillCurrent: () => boolean): Promise<void> {
    while (queue.queued.length > 0) {
      const batches = queue.queued;
      queue.queued = [];
      try {
        if (queue.failure !== undefined) throw queue.failure.error;
        // closed (lost with a transaction before this one) while these batches waited: nothing of them is sent
        if (!stillCurrent()) throw new TaskMigratedError(queue.taskId, undefined);
        // mostly one batch: its arrays go as they are
        const [first] = batches;
        await queue.producer.sendTransaction(
          batches.length === 1 ? first!.records : batches.flatMap((b) => b.records),
          batches.length === 1 ? first!.offsets : latestPerPartition(batches.flatMap((b) => b.offsets)),
          this.applicationId,
        );
      } catch (error) {
        queue.failure ??= { error };
        for (const b of batches) b.failed(error);
        continue;
      }
      for (const b of batches) b.committed();
    }
  }

  private queue(taskId: string): TaskQueue {
    const queue = this.queues.get(taskId);
    if (queue === undefined)
      throw new TopologyError(
        `task ${taskId} has no transactional producer`,
        'this is a bug; please report it',
      );
    return queue;
  }
}

/** Each partition's last offset of the list (the batches' offsets, in processing order). */
function latestPerPartition(offsets: readonly CommitOffset[]): CommitOffset[] {
  const latest = new Map<string, CommitOffset>();
  for (const o of offsets) latest.set(tpKey(o.topic, o.partition), o);
  return [...latest.values()];
}

import type { Logger } from 'pino';
import { TaskMigratedError, TopologyError } from '../../errors.js';
import type { OutgoingRecord } from '../../record.js';
import type { CommitOffset, ConsumedBatch, Transport } from '../../transports/transport.js';
import type { ConsumerLagMonitor } from '../consumer-lag.js';
import type { RuntimeMetrics } from '../metrics.js';
import { Outbox } from '../outbox.js';
import type { ProcessedBatch, StreamTask } from '../stream-task.js';
import type { ApplicationState } from '../streams-application.js';
import type { ActiveTasks } from './active-tasks.js';
import type { BrokerFailures } from './broker-failures.js';
import type { InputBackpressure } from './input-backpressure.js';
import type { TaskTransactions } from './task-transactions.js';

export interface BatchProcessingDependencies {
  readonly applicationId: string;
  readonly exactlyOnce: boolean;
  readonly transport: Transport;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly tasks: ActiveTasks;
  readonly transactions: TaskTransactions;
  readonly backpressure: InputBackpressure;
  readonly lag: ConsumerLagMonitor;
  readonly failures: BrokerFailures;
  state(): ApplicationState;
  fail(error: unknown): void;
  /**
   * The task is lost (migrated, or its transaction failed in an outage): closed dirty, its partitions
   * given up. `refetchFrom`: the first uncommitted input position, when the loss came after its batch was
   * handed over (see TransportConsumer.rejoin).
   */
  taskLost(task: StreamTask, error: unknown, why?: string, refetchFrom?: CommitOffset): Promise<void>;
  /** Output the log acknowledged. */
  produced(records: readonly OutgoingRecord[]): void;
}

/**
 * The processing of consumed batches: each goes to the task that owns its
 * partition, and its output is sent through one outbox (at_least_once) or,
 * with its input offsets, in one transaction of the task's producer
 * (exactly_once). Wall-clock punctuations take the same path as empty
 * batches. Counts the batches in progress: a rebalance and a stop wait for
 * them.
 */
export class BatchProcessing {
  private processing = 0;
  private output: Outbox | undefined;

  constructor(private readonly deps: BatchProcessingDependencies) {}

  /** The outbox of at_least_once output, once opened. */
  get outbox(): Outbox | undefined {
    return this.output;
  }

  /** Opens the outbox: before the first batch. */
  async openOutbox(): Promise<void> {
    const { transport, failures, logger } = this.deps;
    const producer = await transport.producer();
    this.output = new Outbox(
      producer,
      (records) => {
        // a request that reached the log says the brokers answer (an empty one sent nothing)
        if (records.length > 0) failures.outage.succeeded();
        this.deps.produced(records);
      },
      (error) => this.deps.fail(failures.fatal(error)),
      {
        // at-least-once output survives a producer that timed out (e.g. a broker stalled past the
        // request timeout) and the brokers' outage: a new producer resends what was not acknowledged
        replaceProducer: () => transport.producer(),
        maxOutageMs: failures.outage.maxMs,
        onRetry: (error, failuresInARow, outageMs) => {
          failures.record(error);
          logger.warn(
            { err: error, failuresInARow, outageMs },
            'sending output failed; resending with a new producer',
          );
        },
      },
    );
  }

  /** Resolves once the output sent so far is acknowledged. */
  async flushOutput(): Promise<void> {
    await this.output?.flush();
  }

  /** Batches being processed now. */
  get inProgress(): number {
    return this.processing;
  }

  /** Resolves once no batch is in progress, or as soon as `keepWaiting` says false. */
  async finished(keepWaiting: () => boolean): Promise<void> {
    while (this.processing > 0 && keepWaiting()) await new Promise((r) => setTimeout(r, 5));
  }

  async process(batch: ConsumedBatch): Promise<void> {
    const { tasks, metrics, applicationId } = this.deps;
    const state = this.deps.state();
    if (state !== 'running' && state !== 'starting') return;
    const task = tasks.ownerOf(batch.topic, batch.partition);
    if (task === undefined) {
      throw new TopologyError(
        `no task owns ${batch.topic}:${batch.partition}`,
        'the consumer delivered a partition it did not assign',
      );
    }
    this.processing += 1;
    const end = metrics.batchDuration.startTimer({ application: applicationId });
    let transacting = false;
    try {
      let processed: ProcessedBatch;
      try {
        processed = await task.process(batch);
      } catch (error) {
        // lost meanwhile (its previous transaction failed) and closed under the batch: its next owner
        // processes the batch
        if (!tasks.isCurrent(task)) throw new TaskMigratedError(task.id, error);
        // a store failed, or a step failed naming no record: the task's state is not to be trusted and
        // nothing of the batch was committed; the application fails (a restart restores from the changelogs)
        this.deps.fail(error);
        throw error;
      }
      // migrated while this batch waited: nothing of it is committed, the new owner processes it
      if (!tasks.isCurrent(task)) throw new TaskMigratedError(task.id, undefined);
      this.deps.lag.advanced(processed.offsets);
      if (this.deps.exactlyOnce) {
        transacting = this.transact(task, processed);
      } else {
        this.output!.enqueue(processed.records, () => {
          processed.acknowledge();
          this.deps.backpressure.resumeIfDrained(task);
        });
      }
    } finally {
      end();
      // a batch in a transaction stays in progress until the transaction is over
      if (!transacting) this.processing -= 1;
    }
    this.deps.backpressure.pauseIfFull(task);
  }

  /**
   * Runs due wall-clock punctuations: an empty batch per task that has one,
   * through the same path as data (so its output is sent, or transacted, alike).
   */
  async punctuate(): Promise<void> {
    if (this.deps.state() !== 'running') return;
    const due = [...this.deps.tasks.values()].filter((t) => t.wallClockDue());
    for (const task of due) {
      const input = task.firstInput();
      if (input === undefined) continue;
      await this.process({ topic: input.topic, partition: input.partition, records: [] }).catch((error) =>
        this.deps.logger.warn({ err: error, task: task.id }, 'punctuation failed'),
      );
    }
  }

  /**
   * exactly_once: the batch's output (results, changelog records, dead
   * letters) and its input offsets go in the task's next transaction (see
   * TaskTransactions: the task goes on with its next batch meanwhile). The
   * batch stays in progress until that transaction is over. A failed
   * transaction is aborted and the application fails: the task's in-memory
   * state has run ahead of what the log committed, and a restart rebuilds it
   * from the changelogs, as Kafka Streams closes such a task dirty. When it
   * failed because the brokers are unreachable (within maxBrokerOutageMs),
   * or the task's producer was fenced, only the task is lost, as a migrated
   * one: it is closed dirty, its partitions given up and the group rejoined;
   * it is then created again, restored from its changelogs and fed from the
   * committed offsets (Kafka Streams' corrupted task). Returns true when the
   * batch went to a transaction.
   */
  private transact(task: StreamTask, processed: ProcessedBatch): boolean {
    const { tasks, transactions } = this.deps;
    if (processed.records.length === 0 && processed.offsets.length === 0) {
      processed.acknowledge();
      return false;
    }
    transactions
      .send(task.id, processed.records, processed.offsets, () => tasks.isCurrent(task))
      .then(
        () => {
          this.deps.failures.outage.succeeded();
          processed.acknowledge();
          this.deps.produced(processed.records);
          this.deps.backpressure.resumeIfDrained(task);
        },
        (error: unknown) => this.transactionFailed(task, error, processed.from),
      )
      .catch((error: unknown) => this.deps.fail(error))
      .finally(() => {
        this.processing -= 1;
      });
    return true;
  }

  /**
   * The batches of a failed transaction, and those queued after it, fail in
   * processing order: the first to fail is the task's first uncommitted
   * batch, whose first record is where its partition's input resumes.
   */
  private async transactionFailed(
    task: StreamTask,
    error: unknown,
    from: CommitOffset | undefined,
  ): Promise<void> {
    const { failures } = this.deps;
    // the consumer rejoins; the batch is read again by whoever owns it then
    if (error instanceof TaskMigratedError) return this.deps.taskLost(task, error, undefined, from);
    if (failures.ridesOut(error))
      return this.deps.taskLost(task, error, 'transaction failed, the Kafka brokers unreachable', from);
    this.deps.fail(failures.fatal(error));
  }
}

import type { Logger } from 'pino';
import { TopologyError } from '../../errors.js';
import type { TransactionalProducer, Transport } from '../../transports/transport.js';

/**
 * exactly_once: each task's transactional producer, `transactional.id` =
 * `<applicationId>-<taskId>`, and the task's transactions, run one after
 * another. Under at_least_once no task has one and closing is a no-op.
 */
export class TaskTransactions {
  private readonly producers = new Map<string, TransactionalProducer>();
  /** Per task, the end of its last transaction, failed or not. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly transport: Transport,
    private readonly applicationId: string,
    private readonly logger: Logger,
  ) {}

  /** Creates the task's producer, which fences a zombie owner of the task and aborts its open transaction. */
  async open(taskId: string): Promise<void> {
    this.producers.set(taskId, await this.transport.transactionalProducer(`${this.applicationId}-${taskId}`));
  }

  producer(taskId: string): TransactionalProducer {
    const producer = this.producers.get(taskId);
    if (producer === undefined)
      throw new TopologyError(
        `task ${taskId} has no transactional producer`,
        'this is a bug; please report it',
      );
    return producer;
  }

  /** Runs `transaction` once the task's previous transaction is over, whatever its outcome. */
  enqueue(taskId: string, transaction: () => Promise<void>): Promise<void> {
    const run = (this.queues.get(taskId) ?? Promise.resolve()).then(transaction);
    this.queues.set(
      taskId,
      run.catch(() => undefined),
    );
    return run;
  }

  /** Resolves once the task's transactions in progress are over (at once if it has none). */
  async settled(taskId: string): Promise<void> {
    await this.queues.get(taskId);
  }

  /** Resolves once every task's transactions in progress are over. */
  async allSettled(): Promise<void> {
    await Promise.all(this.queues.values());
  }

  /** Closes the task's producer, if it has one; a failure is logged. */
  async close(taskId: string): Promise<void> {
    const producer = this.producers.get(taskId);
    this.producers.delete(taskId);
    this.queues.delete(taskId);
    await producer
      ?.close()
      .catch((e) => this.logger.warn({ err: e, task: taskId }, 'closing the task producer failed'));
  }
}

import type { Logger } from 'pino';
import type { TransportConsumer } from '../../transports/transport.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { ActiveTasks } from './active-tasks.js';
import type { BrokerFailures } from './broker-failures.js';

/** Kafka Streams' threshold: a checkpoint is written after this many changelog records (at_least_once). */
const CHECKPOINT_AFTER_CHANGELOG_RECORDS = 10_000;

export interface OffsetCommitsDependencies {
  readonly applicationId: string;
  readonly exactlyOnce: boolean;
  readonly tasks: ActiveTasks;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly failures: BrokerFailures;
  /** Undefined until start() has created it. */
  consumer(): TransportConsumer | undefined;
  running(): boolean;
}

/**
 * The consumer-group commit of at_least_once: the input offsets whose
 * batches' output the log has acknowledged, then the checkpoints that are
 * due. Under exactly_once the offsets are committed inside each batch's
 * transaction instead.
 */
export class OffsetCommits {
  constructor(private readonly deps: OffsetCommitsDependencies) {}

  /** Commits every offset whose batch output is acknowledged. */
  async commit(): Promise<void> {
    const { tasks, metrics, failures } = this.deps;
    const consumer = this.deps.consumer();
    if (consumer === undefined) return;
    const taken = [...tasks.values()].map((task) => ({ task, offsets: task.takeCommittable() }));
    // exactly_once: offsets were committed inside each batch's transaction
    if (this.deps.exactlyOnce) return;
    const offsets = taken.flatMap((t) => t.offsets);
    if (offsets.length === 0) return;
    const end = metrics.commitLatency.startTimer({ application: this.deps.applicationId });
    try {
      await consumer.commit(offsets);
    } catch (error) {
      // a failed commit (e.g. during a rebalance) is retried with the next one, unless newer offsets overtook it
      for (const { task, offsets: own } of taken) task.returnCommittable(own);
      failures.record(error);
      throw error;
    } finally {
      end();
    }
    failures.outage.succeeded();
    if (!this.deps.running()) return;
    for (const { task } of taken) {
      await task
        .checkpointIfDue(CHECKPOINT_AFTER_CHANGELOG_RECORDS)
        .catch((e) =>
          this.deps.logger.warn({ err: e, task: task.id }, 'could not write the checkpoint; will retry'),
        );
    }
  }
}

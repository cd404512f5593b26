import type { Logger } from 'pino';
import { deadLetterTopic, lateRecordsTopic } from '../../plan/topology.js';
import type { TopicPartition } from '../../record.js';
import type { StateDirectory } from '../../state/state-directory.js';
import type { StoreType } from '../../state/store.js';
import type { CommitOffset, Transport, TransportConsumer } from '../../transports/transport.js';
import { restoreChangelogs } from '../changelog-restorer.js';
import type { ConsumerLagMonitor } from '../consumer-lag.js';
import type { RuntimeMetrics } from '../metrics.js';
import { partitionForKey } from '../partitioner.js';
import { StreamTask, type TaskEnvironment } from '../stream-task.js';
import type { ApplicationState } from '../streams-application.js';
import type { ActiveTasks } from './active-tasks.js';
import type { BatchProcessing } from './batch-processing.js';
import type { BrokerFailures } from './broker-failures.js';
import type { InputBackpressure } from './input-backpressure.js';
import type { TaskTransactions } from './task-transactions.js';
import type { TopicLayout } from './topic-layout.js';

/** How long a rebalance waits for the batches in progress before committing what is done. */
const REBALANCE_FLUSH_TIMEOUT_MS = 10_000;

export interface TaskAssignmentDependencies {
  readonly applicationId: string;
  readonly exactlyOnce: boolean;
  readonly transport: Transport;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly layout: TopicLayout;
  readonly tasks: ActiveTasks;
  readonly transactions: TaskTransactions;
  readonly backpressure: InputBackpressure;
  readonly lag: ConsumerLagMonitor;
  readonly failures: BrokerFailures;
  readonly batches: BatchProcessing;
  /** StreamsConfig.stateDir (or its default): where persistent stores live. */
  readonly stateDir: string;
  /** StreamsConfig.defaultStoreType: the backend of stores whose options choose none. */
  readonly defaultStoreType: StoreType | undefined;
  /** The wall clock tasks read. */
  readonly now: () => number;
  /** Undefined until start() has created it. */
  consumer(): TransportConsumer | undefined;
  /** Commits the offsets whose output is acknowledged. */
  commit(): Promise<void>;
  state(): ApplicationState;
  fail(error: unknown): void;
}

/**
 * The tasks follow the consumer's assignment: the tasks of newly assigned
 * partitions are created and restored from their changelogs, those of
 * revoked partitions committed and closed, a task that migrated (fenced, or
 * lost with its transaction in a brokers' outage) closed dirty and its
 * partitions given up. Before a rebalance, what is in progress is finished
 * and committed while the partitions are still ours.
 */
export class TaskAssignment {
  /** Assignment and revocation, one at a time, in the order the consumer reported them. */
  private changes: Promise<void> = Promise.resolve();
  /** Spreads the records without a key of every task over their topic's partitions. */
  private roundRobin = 0;
  /** Assignments reported and not handled yet: their tasks are still to be created and restored. */
  private assignmentsPending = 0;

  constructor(private readonly deps: TaskAssignmentDependencies) {}

  /**
   * Creates (and restores) the tasks of newly assigned partitions. Assignment
   * changes run one after another: the consumer may report a partition both
   * from its group-join event and from its first batch, and two creations of
   * one task would build two stores and, under exactly_once, two producers
   * with one transactional id that fence each other.
   */
  onAssigned(tps: readonly TopicPartition[]): Promise<void> {
    this.assignmentsPending += 1;
    return this.serialise(() => this.assign(tps)).finally(() => {
      this.assignmentsPending -= 1;
    });
  }

  /** True while assigned partitions wait for their tasks: created, then restored from the changelogs. */
  get restoring(): boolean {
    return this.assignmentsPending > 0;
  }

  onRevoked(tps: readonly TopicPartition[]): Promise<void> {
    return this.serialise(() => this.revoke(tps));
  }

  /**
   * Before this member rejoins its group (a rebalance): the batches in
   * progress finish, their output is acknowledged and the offsets committed
   * while the partitions are still ours, as Kafka Streams commits in
   * onPartitionsRevoked. The member that gets a partition next then starts
   * exactly where this one stopped, and no commit of ours lands after it
   * took over. The tasks stay open: those still assigned after the rejoin go
   * on, the others are closed then (revoke).
   */
  async beforeRebalance(memberLost: boolean): Promise<void> {
    if (this.deps.state() !== 'running') return;
    const deadline = Date.now() + REBALANCE_FLUSH_TIMEOUT_MS;
    await this.deps.batches.finished(() => Date.now() < deadline);
    await this.deps.transactions.allSettled();
    await this.deps.batches.flushOutput();
    if (memberLost) return;
    await this.deps
      .commit()
      .catch((e) =>
        this.deps.logger.warn(
          { err: e },
          'commit before the rebalance failed; the next owner will reprocess',
        ),
      );
  }

  /**
   * A task whose producer was fenced migrated to another instance: it is
   * closed dirty (its state may be ahead of what was committed) and the
   * consumer gives up its partitions and rejoins the group; the other tasks
   * keep running. If the group gives the partitions back, the task is
   * created again and restored from its changelogs.
   */
  async taskMigrated(
    task: StreamTask,
    error: unknown,
    why = 'task migrated',
    refetchFrom?: CommitOffset,
  ): Promise<void> {
    const { tasks, logger } = this.deps;
    if (!tasks.isCurrent(task)) return;
    logger.warn({ task: task.id, err: error }, `${why}: closing it and rejoining the group`);
    tasks.delete(task.id);
    for (const tp of task.inputPartitions()) tasks.disown(tp);
    this.deps.lag.revoked(task.inputPartitions());
    this.deps.consumer()?.rejoin?.(task.inputPartitions(), refetchFrom);
    // a paused partition stays paused across the rejoin: its next owner's task starts unpaused (and a batch
    // delivered meanwhile makes the consumer rejoin at once)
    this.deps.backpressure.release(task, true);
    await this.closeDirty(task);
    tasks.report();
  }

  /**
   * Deletes the state of tasks this instance has not used for `delayMs`
   * (see StateDirectory), between assignment changes: no task being created
   * has its directory deleted under it. A failure is logged; the next round
   * tries again.
   */
  cleanStateDirectory(directory: StateDirectory, delayMs: number): Promise<void> {
    const { logger, tasks } = this.deps;
    return this.serialise(async () => {
      const removed = await directory
        .removeUnownedTasks(new Set(tasks.byId().keys()), delayMs)
        .catch((error: unknown) => {
          logger.warn({ err: error }, 'cleaning the state directory failed; the next round tries again');
          return [];
        });
      if (removed.length > 0)
        logger.info(
          { tasks: removed, delayMs },
          'deleted the local state of tasks this instance has not run for the cleanup delay',
        );
    });
  }

  /** A task that cannot be created or restored is fatal, as in Kafka Streams: the application stops. */
  private serialise(change: () => Promise<void>): Promise<void> {
    const run = this.changes.then(change).catch((error: unknown) => this.deps.fail(error));
    this.changes = run;
    return run;
  }

  /**
   * Builds the tasks of newly assigned partitions, then restores all their
   * stores together (one changelog reader per topic, as Kafka Streams' restore
   * consumer) before any of them processes. When the brokers become
   * unreachable meanwhile (within maxBrokerOutageMs), the new tasks are
   * dropped and their partitions given up until the group is rejoined.
   * Once a stop has begun no task is created: the instance is leaving the
   * group, and a new task would only be restored to be closed.
   */
  private async assign(tps: readonly TopicPartition[]): Promise<void> {
    const state = this.deps.state();
    if (state === 'stopping' || state === 'stopped' || state === 'failed') return;
    const { tasks, layout } = this.deps;
    const created = new Map<string, StreamTask>();
    try {
      await this.createTasks(tps, created);
    } catch (error) {
      if (!this.deps.failures.ridesOut(error)) throw error;
      // the brokers went away while the tasks were created or restored: they are dropped and their partitions
      // given up; the group hands them out again when it is rejoined, the brokers back
      this.deps.logger.warn(
        { err: error, tasks: [...created.keys()] },
        'the Kafka brokers unreachable while creating tasks: giving their partitions up and rejoining the group',
      );
      for (const task of created.values()) {
        if (tasks.isCurrent(task)) tasks.delete(task.id);
        await this.closeDirty(task);
      }
      const taskless = tps.filter((tp) => {
        const sub = layout.readerOf(tp.topic);
        return sub !== undefined && !tasks.has(`${sub.id}_${tp.partition}`);
      });
      this.deps.consumer()?.rejoin?.(taskless);
      tasks.report();
    }
  }

  /** assign(): `created` holds the tasks made so far, for a failure to close. */
  private async createTasks(tps: readonly TopicPartition[], created: Map<string, StreamTask>): Promise<void> {
    const { tasks, transport, applicationId, exactlyOnce, logger } = this.deps;
    /** The task of each assigned partition this application reads, by partition. */
    const taskIds = new Map<TopicPartition, string>();
    for (const tp of tps) {
      const sub = this.deps.layout.readerOf(tp.topic);
      if (sub === undefined) continue;
      const id = `${sub.id}_${tp.partition}`;
      taskIds.set(tp, id);
      if (tasks.has(id) || created.has(id)) continue;
      // fences a zombie owner of this task and aborts its open transaction before we restore
      if (exactlyOnce) await this.deps.transactions.open(id);
      created.set(id, new StreamTask(sub, tp.partition, this.environment()));
    }
    const restores = [];
    for (const task of created.values()) restores.push(...(await task.openStores()));
    await restoreChangelogs(restores, {
      transport,
      metrics: this.deps.metrics,
      logger,
      readCommitted: exactlyOnce,
    });
    /**
     * Read after fencing: a zombie's transaction has completed, so these offsets match the restored state.
     * Under every guarantee the metadata committed with them carries each task's stream time.
     */
    const committed = new Map<string, Promise<Array<CommitOffset | undefined>>>();
    for (const task of created.values()) {
      for (const { topic, partition } of task.inputPartitions()) {
        if (!committed.has(topic)) committed.set(topic, transport.committedPositions(applicationId, topic));
        const position = (await committed.get(topic)!)[partition];
        if (position === undefined) continue;
        task.restoreStreamTime(position.metadata);
        if (exactlyOnce) task.startAt(topic, partition, position.offset);
      }
      tasks.add(task);
      // kafkajs keeps a partition paused across rebalances: a new task starts with its input flowing
      this.deps.consumer()?.resume(task.inputPartitions());
      logger.info({ task: task.id }, 'task created');
    }
    for (const [tp, id] of taskIds) {
      tasks.own(tp, tasks.get(id)!);
      this.deps.lag.assigned([tp]);
    }
    tasks.report();
  }

  private async revoke(tps: readonly TopicPartition[]): Promise<void> {
    const { tasks, logger } = this.deps;
    const affected = new Set<StreamTask>();
    for (const tp of tps) {
      const task = tasks.disown(tp);
      if (task !== undefined) affected.add(task);
    }
    this.deps.lag.revoked(tps);
    await this.deps.batches.flushOutput();
    await this.deps
      .commit()
      .catch((e) => logger.warn({ err: e }, 'commit on revocation failed; the new owner will reprocess'));
    for (const task of affected) {
      if (tasks.ownsInput(task)) continue;
      await this.deps.transactions.settled(task.id);
      await task.close({ clean: this.deps.state() !== 'failed' });
      await this.deps.transactions.close(task.id);
      tasks.delete(task.id);
      this.deps.backpressure.release(task, true);
      logger.info({ task: task.id }, 'task closed');
    }
    tasks.report();
  }

  /** What a new task runs with. */
  private environment(): TaskEnvironment {
    const { applicationId, transport, metrics, logger, layout } = this.deps;
    return {
      applicationId,
      transport,
      metrics,
      logger,
      deadLetterTopic: deadLetterTopic(applicationId),
      lateTopic: lateRecordsTopic(applicationId),
      readCommitted: this.deps.exactlyOnce,
      stateDir: this.deps.stateDir,
      defaultStoreType: this.deps.defaultStoreType ?? 'memory',
      partitionCount: (topic) => layout.partitionCount(topic),
      partitionFor: (topic, key) =>
        partitionForKey(key, layout.partitionCount(topic), () => this.roundRobin++),
      now: this.deps.now,
    };
  }

  /** Closes a task whose state may be ahead of what was committed, and its producer; failures are logged. */
  private async closeDirty(task: StreamTask): Promise<void> {
    await task
      .close({ clean: false })
      .catch((e) => this.deps.logger.warn({ err: e, task: task.id }, 'closing failed'));
    await this.deps.transactions.close(task.id);
  }
}

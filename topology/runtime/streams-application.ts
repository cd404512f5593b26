import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { TopologyError } from '../errors.js';
import type { Topology } from '../plan/topology.js';
import type { Serde } from '../serdes/serde.js';
import { StateDirectory } from '../state/state-directory.js';
import type { StateStore, StoreType } from '../state/store.js';
import { checkStoreType } from '../state/store-type.js';
import type { Transport, TransportConsumer } from '../transports/transport.js';
import { ConsumerLagMonitor } from './consumer-lag.js';
import { ActiveTasks } from './internal/active-tasks.js';
import { BatchProcessing } from './internal/batch-processing.js';
import { BrokerFailures } from './internal/broker-failures.js';
import {
  BrokerOutage,
  type BrokerOutageState,
  DEFAULT_MAX_BROKER_OUTAGE_MS,
} from './internal/broker-outage.js';
import { InputBackpressure } from './internal/input-backpressure.js';
import { OffsetCommits } from './internal/offset-commits.js';
import { prepareSerdes } from './internal/serde-preparation.js';
import { drainAndClose, stopTimeoutError } from './internal/shutdown.js';
import { StoreQueries } from './internal/store-queries.js';
import { TaskAssignment } from './internal/task-assignment.js';
import { TaskTransactions } from './internal/task-transactions.js';
import { TopicLayout } from './internal/topic-layout.js';
import { RuntimeMetrics } from './metrics.js';
import type { StreamTask } from './stream-task.js';

export type ProcessingGuarantee = 'at_least_once' | 'exactly_once';

export interface StreamsConfig {
  /** Consumer group id, prefix of internal topics and of the dead-letter topic. */
  readonly applicationId: string;
  readonly transport: Transport;
  /** Default `at_least_once`. */
  readonly processingGuarantee?: ProcessingGuarantee;
  /** How often acknowledged offsets are committed. Default 1000 ms. */
  readonly commitIntervalMs?: number;
  /** Processed-but-unacknowledged batches a task may hold before its partitions are paused. Default 8. */
  readonly maxInFlightBatches?: number;
  /** Partitions processed concurrently (kafka transport). Default 3. */
  readonly concurrency?: number;
  /** How long the group waits for a silent instance before moving its tasks. Default 30 s. */
  readonly sessionTimeoutMs?: number;
  /** How long a rebalance waits for instances to rejoin; a crashed instance delays rebalances this long. Default 60 s. */
  readonly rebalanceTimeoutMs?: number;
  /** How often `veroai_consumer_lag` asks the transport for end offsets. Default 5000 ms. */
  readonly lagRefreshIntervalMs?: number;
  readonly logger?: Logger;
  readonly metricsRegistry?: Registry;
  /** Wall clock; the TestDriver moves its own. */
  readonly clock?: () => number;
  /**
   * Where persistent (`rocksdb`) stores keep their files and checkpoints:
   * `<stateDir>/<applicationId>/<taskId>/<store>`. Default
   * `<os temp dir>/veroai-streams`; the CLI takes it from STATE_DIR.
   */
  readonly stateDir?: string;
  /**
   * How long the directory of a task this instance no longer runs is kept
   * (from the last time a task of this instance used it) before it is
   * deleted; a task that comes back within it restores only the changelog
   * after its checkpoint. Checked as often. Kafka Streams'
   * `state.cleanup.delay.ms`; default 10 minutes; the CLI takes it from
   * STATE_CLEANUP_DELAY_MS.
   */
  readonly stateCleanupDelayMs?: number;
  /**
   * The backend of stores whose DSL options do not choose one (`{ store: 'rocksdb' }`).
   * Default `memory`; the CLI takes it from STATE_STORE (default `rocksdb`).
   */
  readonly defaultStoreType?: StoreType;
  /**
   * How long stop() waits for the batches in progress to finish and their
   * output to be acknowledged. Past it, what is still in flight is abandoned
   * uncommitted (reprocessed on restart), the group is left all the same, and
   * stop() rejects with `VEROAI_ERR_STOP_TIMEOUT`. Default 30 s; the CLI takes
   * it from STOP_TIMEOUT_MS.
   */
  readonly stopTimeoutMs?: number;
  /**
   * How long the brokers may stay unreachable, from the first failure with a
   * connectivity cause (a send, a commit, a transaction, the consumer losing
   * them) to the next success, before the application fails with
   * `VEROAI_ERR_KAFKA_UNREACHABLE`. Within it nothing is fatal: output is
   * resent, the consumer reconnects and rejoins, an exactly_once task whose
   * transaction failed is recreated from its changelogs. Default 120 s; the
   * CLI takes it from BROKER_MAX_OUTAGE_MS.
   */
  readonly maxBrokerOutageMs?: number;
}

/** StreamsConfig.stateCleanupDelayMs: Kafka Streams' `state.cleanup.delay.ms` default. */
const DEFAULT_STATE_CLEANUP_DELAY_MS = 600_000;

export type ApplicationState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * Runs a topology: one consumer group per application id, one task per
 * (sub-topology, partition) owned by this instance, outputs sent through one
 * outbox, offsets committed only once the output they produced is in the log.
 * More instances with the same application id share the partitions.
 *
 * Events: `state` (new, old), `error` (fatal error; the application stops).
 */
export class StreamsApplication extends EventEmitter {
  readonly applicationId: string;
  readonly metrics: RuntimeMetrics;
  readonly registry: Registry;
  private readonly transport: Transport;
  private readonly logger: Logger;
  private readonly commitIntervalMs: number;
  private readonly exactlyOnce: boolean;
  /** The brokers' outage in progress, if any: past its bound the application fails. */
  private readonly outage: BrokerOutage;
  private readonly failures: BrokerFailures;
  private readonly lag: ConsumerLagMonitor;
  private readonly layout: TopicLayout;
  private readonly tasks: ActiveTasks;
  private readonly transactions: TaskTransactions;
  private readonly batches: BatchProcessing;
  private readonly assignment: TaskAssignment;
  private readonly offsets: OffsetCommits;
  private readonly queries: StoreQueries;
  private consumer: TransportConsumer | undefined;
  private unwatchStores: (() => void) | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private punctuationTimer: NodeJS.Timeout | undefined;
  /** `<stateDir>/<applicationId>`, locked while the application runs, when the topology keeps persistent stores. */
  private stateDirectory: StateDirectory | undefined;
  private stateCleanupTimer: NodeJS.Timeout | undefined;
  private readonly stateRoot: string;
  private readonly stateCleanupDelayMs: number;
  private currentState: ApplicationState = 'created';
  /** The stop in progress or done: every stop() call returns it. */
  private stopping: Promise<void> | undefined;
  /** Settles when start() is over, run or not: a stop during start-up waits for what start() opens. */
  private startup: Promise<void> = Promise.resolve();

  constructor(
    readonly topology: Topology,
    private readonly config: StreamsConfig,
  ) {
    super();
    if (!/^[a-zA-Z0-9._-]{1,200}$/.test(config.applicationId)) {
      throw new TopologyError(
        `applicationId '${config.applicationId}' is not valid`,
        'use letters, digits, ".", "_" and "-": it prefixes topic names',
      );
    }
    const applicationId = config.applicationId;
    this.applicationId = applicationId;
    const exactlyOnce = config.processingGuarantee === 'exactly_once';
    this.exactlyOnce = exactlyOnce;
    checkStoreType(config.defaultStoreType, 'defaultStoreType');
    const transport = config.transport;
    this.transport = transport;
    const logger = (config.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' })).child({
      app: applicationId,
    });
    this.logger = logger;
    this.registry = config.metricsRegistry ?? new Registry();
    const metrics = new RuntimeMetrics(this.registry, applicationId);
    this.metrics = metrics;
    const clock = config.clock ?? Date.now;
    this.commitIntervalMs = config.commitIntervalMs ?? 1000;
    const maxInFlight = config.maxInFlightBatches ?? 8;
    this.stateRoot = config.stateDir ?? join(tmpdir(), 'veroai-streams');
    this.stateCleanupDelayMs = config.stateCleanupDelayMs ?? DEFAULT_STATE_CLEANUP_DELAY_MS;
    if (!(Number.isFinite(this.stateCleanupDelayMs) && this.stateCleanupDelayMs > 0))
      throw new TopologyError(
        `stateCleanupDelayMs ${this.stateCleanupDelayMs} is not valid`,
        'give a positive number of milliseconds',
      );
    const maxOutageMs = config.maxBrokerOutageMs ?? DEFAULT_MAX_BROKER_OUTAGE_MS;
    if (!(Number.isFinite(maxOutageMs) && maxOutageMs > 0))
      throw new TopologyError(
        `maxBrokerOutageMs ${maxOutageMs} is not valid`,
        'give a positive number of milliseconds',
      );
    const fail = (error: unknown) => this.fail(error);
    this.outage = new BrokerOutage(maxOutageMs, fail);
    const lag = new ConsumerLagMonitor(
      transport,
      applicationId,
      metrics,
      logger,
      config.lagRefreshIntervalMs ?? 5000,
    );
    this.lag = lag;

    // the parts read the application's state and consumer when they need them: both change
    const state = () => this.currentState;
    const running = () => this.currentState === 'running';
    const consumer = () => this.consumer;
    const failures = new BrokerFailures(transport, this.outage, logger, running, fail);
    const layout = new TopicLayout(topology, applicationId, transport);
    const tasks = new ActiveTasks(metrics, applicationId);
    const transactions = new TaskTransactions(transport, applicationId, logger);
    const backpressure = new InputBackpressure(maxInFlight, consumer, running, metrics, applicationId);
    /** What most parts read; each declares the part of it it needs. */
    const shared = { applicationId, exactlyOnce, transport, metrics, logger, tasks, failures } as const;
    const batches = new BatchProcessing({
      ...shared,
      transactions,
      backpressure,
      lag,
      state,
      fail,
      taskLost: (task, error, why, refetchFrom) =>
        this.assignment.taskMigrated(task, error, why, refetchFrom),
      produced: (records) => metrics.acknowledged(records, clock(), layout.endToEndTopics),
    });
    this.assignment = new TaskAssignment({
      ...shared,
      layout,
      transactions,
      backpressure,
      lag,
      batches,
      stateDir: this.stateRoot,
      defaultStoreType: config.defaultStoreType,
      now: clock,
      consumer,
      commit: () => this.commit(),
      state,
      fail,
    });
    this.offsets = new OffsetCommits({ ...shared, consumer, running });
    this.queries = new StoreQueries(topology, applicationId, tasks, layout);
    this.failures = failures;
    this.layout = layout;
    this.tasks = tasks;
    this.transactions = transactions;
    this.batches = batches;
  }

  get state(): ApplicationState {
    return this.currentState;
  }

  /** Creates internal topics, prepares serdes, joins the group and starts processing. */
  async start(): Promise<void> {
    if (this.currentState !== 'created')
      throw new TopologyError(
        `start(): the application is ${this.currentState}`,
        'create a new StreamsApplication',
      );
    this.setState('starting');
    let started: () => void = () => undefined;
    this.startup = new Promise<void>((resolve) => {
      started = resolve;
    });
    try {
      // first: an instance that may not use its state directory touches nothing else (topics, the group)
      if (this.keepsPersistentState()) {
        const directory = await StateDirectory.lock(this.stateRoot, this.applicationId);
        // a stop that ran meanwhile released nothing: this start gives it up itself
        if (this.state !== 'starting') return await directory.release();
        this.stateDirectory = directory;
      }
      await this.layout.prepare();
      await prepareSerdes(this.topology, this.applicationId);
      // stop() or a fatal error during start-up: the application never runs (stop() closes what is open)
      if (this.state !== 'starting') return;
      this.metrics.declareStores(
        [...this.topology.stores.values()].filter((s) => s.changelog).map((s) => s.name),
      );
      this.metrics.pausedPartitions.set({ application: this.applicationId }, 0);
      await this.batches.openOutbox();
      const topics = this.layout.sourceTopics();
      if (this.state !== 'starting') return;
      this.consumer = this.transport.consumer({
        groupId: this.applicationId,
        topics,
        concurrency: this.config.concurrency ?? 3,
        readCommitted: this.exactlyOnce,
        ...(this.config.sessionTimeoutMs === undefined
          ? {}
          : { sessionTimeoutMs: this.config.sessionTimeoutMs }),
        ...(this.config.rebalanceTimeoutMs === undefined
          ? {}
          : { rebalanceTimeoutMs: this.config.rebalanceTimeoutMs }),
      });
      await this.consumer.start({
        onAssigned: (tps) => this.assignment.onAssigned(tps),
        onRevoked: (tps) => this.assignment.onRevoked(tps),
        onBatch: (batch) => this.batches.process(batch),
        onRebalancing: (memberLost) => this.assignment.beforeRebalance(memberLost),
        onError: (error) => this.fail(error),
        onDisconnected: (error) => this.failures.consumerLost(error),
        onJoined: () => this.outage.succeeded(),
      });
      if (this.state !== 'starting') return;
      this.commitTimer = setInterval(
        () => void this.commit().catch((e) => this.logger.warn({ err: e }, 'commit failed; will retry')),
        this.commitIntervalMs,
      );
      this.commitTimer.unref();
      this.punctuationTimer = setInterval(() => void this.punctuate(), 100);
      this.punctuationTimer.unref();
      const stateDirectory = this.stateDirectory;
      if (stateDirectory !== undefined) {
        this.stateCleanupTimer = setInterval(
          () => void this.assignment.cleanStateDirectory(stateDirectory, this.stateCleanupDelayMs),
          this.stateCleanupDelayMs,
        );
        this.stateCleanupTimer.unref();
      }
      this.lag.start();
      this.unwatchStores = this.metrics.watchStoreEntries(() => this.queries.entries());
      this.setState('running');
    } catch (error) {
      if (this.state === 'starting') this.setState('failed');
      throw error;
    } finally {
      started();
    }
  }

  /**
   * Stops: pauses the input, lets the batches in progress finish and their
   * output be acknowledged, commits, leaves the group and closes the tasks.
   *
   * Bounded by `stopTimeoutMs`: past it, the batches still in flight are
   * abandoned uncommitted (reprocessed on restart), what was acknowledged is
   * committed, the group is left all the same, and stop() rejects with
   * `VEROAI_ERR_STOP_TIMEOUT` once everything is closed. After a fatal error
   * nothing is committed and nothing in flight is waited for; the state stays
   * `failed`. During start(), it ends the start-up: the application never
   * runs. Every call returns the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    const timeoutMs = this.config.stopTimeoutMs ?? 30_000;
    if (this.currentState !== 'failed') this.setState('stopping');
    this.outage.close();
    clearInterval(this.commitTimer);
    clearInterval(this.punctuationTimer);
    clearInterval(this.stateCleanupTimer);
    this.lag.stop();
    this.unwatchStores?.();
    const heldUpBy = await drainAndClose(
      {
        logger: this.logger,
        tasks: this.tasks,
        transactions: this.transactions,
        batches: this.batches,
        consumer: () => this.consumer,
        startup: () => this.startup,
        failed: () => this.currentState === 'failed',
        commit: () => this.commit(),
      },
      timeoutMs,
    );
    // the tasks are closed (or abandoned past the deadline): another process may take the directory
    await this.stateDirectory?.release();
    if (this.currentState !== 'failed') this.setState('stopped');
    if (heldUpBy !== undefined) throw stopTimeoutError(timeoutMs, heldUpBy);
  }

  /** Whether a store of the topology is persistent (`rocksdb`), by its own choice or the default. */
  private keepsPersistentState(): boolean {
    const fallback = this.config.defaultStoreType ?? 'memory';
    return [...this.topology.stores.values()].some((s) => (s.storeType ?? fallback) === 'rocksdb');
  }

  /** Tasks this instance runs now, by id (`<subTopology>_<partition>`). */
  activeTasks(): ReadonlyMap<string, StreamTask> {
    return this.tasks.byId();
  }

  /** Local instances of a store: one per task that owns it here. */
  localStores(name: string): Array<{ partition: number; store: StateStore }> {
    return this.queries.localStores(name);
  }

  /**
   * Interactive query: the local instance of store `storeName` that holds
   * `key`, or undefined when another instance of the group owns that key's
   * partition (or the task is not assigned yet). The partition is the one the
   * default partitioner gives the key's bytes, as Kafka Streams'
   * `queryMetadataForKey`: `key` is the record key the task is partitioned by
   * (for a time-window store, the key inside the windowed key), serialised with
   * `keySerde`, by default the store's own (right for key-value and session
   * stores; pass the grouping key's serde for time-window stores).
   *
   * @example const sessions = app.queryStore<SessionStore<string, Summary>>('user-sessions', 'acme/u1');
   * @example const counts = app.queryStore<KeyValueStore<Windowed<string>, number>>('clicks-per-minute', 'acme', Serdes.string);
   */
  queryStore<S extends StateStore = StateStore>(
    storeName: string,
    key: unknown,
    keySerde?: Serde<unknown>,
  ): S | undefined {
    return this.queries.holding(storeName, key, keySerde) as S | undefined;
  }

  /**
   * The brokers' outage in progress, if any: since when (the first failure
   * with a connectivity cause) and its last error. Readiness reports it.
   * Past `maxBrokerOutageMs` the application fails.
   */
  brokerOutage(): BrokerOutageState | undefined {
    return this.outage.state();
  }

  /**
   * True while the tasks of partitions just assigned to this instance are
   * created and their stores restored from the changelogs: those partitions
   * are not processed yet. Readiness reports it.
   */
  restoring(): boolean {
    return this.assignment.restoring;
  }

  /** True while a batch is being processed or output is unacknowledged. */
  busy(): boolean {
    return this.batches.inProgress > 0 || [...this.tasks.values()].some((t) => t.backlog > 0);
  }

  /**
   * Runs due wall-clock punctuations: an empty batch per task that has one,
   * through the same path as data (so its output is sent, or transacted, alike).
   * Called every 100 ms; the TestDriver calls it when it moves time.
   */
  punctuate(): Promise<void> {
    return this.batches.punctuate();
  }

  /** Commits every offset whose batch output is acknowledged. */
  commit(): Promise<void> {
    return this.offsets.commit();
  }

  private setState(next: ApplicationState): void {
    const previous = this.currentState;
    this.currentState = next;
    this.logger.info({ from: previous, to: next }, 'application state');
    this.emit('state', next, previous);
  }

  /**
   * A fatal error, as Kafka Streams' ERROR state: nothing more is committed,
   * the consumer leaves the group at once (its partitions move to another
   * instance), the tasks close dirty. Reported once, through `error`. The
   * runtime calls it on its own fatal errors; a caller calls it for one the
   * runtime cannot see, e.g. a sink it writes to down past its retries.
   */
  fail(error: unknown): void {
    if (this.currentState === 'failed') return;
    if (this.currentState === 'stopped') {
      // e.g. a batch abandoned at the stop deadline failing later: the application is gone already
      this.logger.warn({ err: error }, 'error after the application stopped; ignored');
      return;
    }
    this.logger.error({ err: error }, 'fatal error: stopping without committing what was not written');
    this.setState('failed');
    void this.stop().catch(() => undefined);
    this.emit('error', error);
  }
}

import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { TaskMigratedError, TopologyError, VeroaiError } from '../errors.js';
import type { SourceNode } from '../plan/graph.js';
import {
  changelogTopic,
  deadLetterTopic,
  lateRecordsTopic,
  type SubTopology,
  type Topology,
  topicName,
} from '../plan/topology.js';
import type { OutgoingRecord, TopicPartition } from '../record.js';
import { tpKey } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import type { StateStore, StoreType } from '../state/store.js';
import { checkStoreType } from '../state/store-type.js';
import type {
  CommitOffset,
  ConsumedBatch,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportConsumer,
} from '../transports/transport.js';
import { restoreChangelogs } from './changelog-restorer.js';
import { ConsumerLagMonitor } from './consumer-lag.js';
import {
  BrokerOutage,
  type BrokerOutageState,
  DEFAULT_MAX_BROKER_OUTAGE_MS,
} from './internal/broker-outage.js';
import { RuntimeMetrics } from './metrics.js';
import { Outbox } from './outbox.js';
import { partitionForKey } from './partitioner.js';
import { type ProcessedBatch, StreamTask, type TaskEnvironment } from './stream-task.js';

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

/** After the stop deadline, how long each closing step (commit, leaving the group, closing a task) may still take. */
const CLOSE_GRACE_MS = 5_000;

/** How long a rebalance waits for the batches in progress before committing what is done. */
const REBALANCE_FLUSH_TIMEOUT_MS = 10_000;

/** Kafka Streams' threshold: a checkpoint is written after this many changelog records (at_least_once). */
const CHECKPOINT_AFTER_CHANGELOG_RECORDS = 10_000;

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
  private readonly clock: () => number;
  private readonly commitIntervalMs: number;
  private readonly maxInFlight: number;
  private readonly partitions = new Map<string, number>();
  private readonly topicToSubTopology = new Map<string, SubTopology>();
  private readonly tasks = new Map<string, StreamTask>();
  private readonly tpToTask = new Map<string, StreamTask>();
  private readonly pausedTasks = new Set<string>();
  /** exactly_once: one transactional producer per task, `transactional.id` = `<applicationId>-<taskId>`. */
  private readonly taskProducers = new Map<string, TransactionalProducer>();
  private readonly exactlyOnce: boolean;
  /** exactly_once: a task's transactions run one after another. */
  private readonly transactions = new Map<string, Promise<void>>();
  /** Assignment and revocation, one at a time, in the order the consumer reported them. */
  private assignmentChanges: Promise<void> = Promise.resolve();
  private consumer: TransportConsumer | undefined;
  private outbox: Outbox | undefined;
  private readonly lag: ConsumerLagMonitor;
  /** The topology's external output topics: where `veroai_end_to_end_latency_seconds` is measured. */
  private readonly endToEndTopics = new Set<string>();
  private unwatchStores: (() => void) | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private punctuationTimer: NodeJS.Timeout | undefined;
  private roundRobin = 0;
  private currentState: ApplicationState = 'created';
  private processing = 0;
  /** The stop in progress or done: every stop() call returns it. */
  private stopping: Promise<void> | undefined;
  /** Settles when start() is over, run or not: a stop during start-up waits for what start() opens. */
  private startup: Promise<void> = Promise.resolve();
  /** The brokers' outage in progress, if any: past its bound the application fails. */
  private readonly outage: BrokerOutage;

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
    this.applicationId = config.applicationId;
    this.exactlyOnce = config.processingGuarantee === 'exactly_once';
    checkStoreType(config.defaultStoreType, 'defaultStoreType');
    this.transport = config.transport;
    this.logger = (config.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' })).child({
      app: config.applicationId,
    });
    this.registry = config.metricsRegistry ?? new Registry();
    this.metrics = new RuntimeMetrics(this.registry, config.applicationId);
    this.clock = config.clock ?? Date.now;
    this.commitIntervalMs = config.commitIntervalMs ?? 1000;
    this.maxInFlight = config.maxInFlightBatches ?? 8;
    const maxOutageMs = config.maxBrokerOutageMs ?? DEFAULT_MAX_BROKER_OUTAGE_MS;
    if (!(Number.isFinite(maxOutageMs) && maxOutageMs > 0))
      throw new TopologyError(
        `maxBrokerOutageMs ${maxOutageMs} is not valid`,
        'give a positive number of milliseconds',
      );
    this.outage = new BrokerOutage(maxOutageMs, (error) => this.fail(error));
    this.lag = new ConsumerLagMonitor(
      this.transport,
      this.applicationId,
      this.metrics,
      this.logger,
      config.lagRefreshIntervalMs ?? 5000,
    );
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
      await this.prepareTopics();
      await this.prepareSerdes();
      // stop() or a fatal error during start-up: the application never runs (stop() closes what is open)
      if (this.state !== 'starting') return;
      this.metrics.declareStores(
        [...this.topology.stores.values()].filter((s) => s.changelog).map((s) => s.name),
      );
      this.metrics.pausedPartitions.set({ application: this.applicationId }, 0);
      const producer = await this.transport.producer();
      this.outbox = new Outbox(
        producer,
        (records) => {
          // a request that reached the log says the brokers answer (an empty one sent nothing)
          if (records.length > 0) this.outage.succeeded();
          this.countProduced(records);
        },
        (error) =>
          this.fail(this.unreachable(error) && this.outage.state() ? this.outage.exceededError() : error),
        {
          // at-least-once output survives a producer that timed out (e.g. a broker stalled past the
          // request timeout) and the brokers' outage: a new producer resends what was not acknowledged
          replaceProducer: () => this.transport.producer(),
          maxOutageMs: this.outage.maxMs,
          onRetry: (error, failuresInARow, outageMs) => {
            if (this.unreachable(error)) this.outage.failed(error);
            this.logger.warn(
              { err: error, failuresInARow, outageMs },
              'sending output failed; resending with a new producer',
            );
          },
        },
      );
      const topics = [...this.topicToSubTopology.keys()];
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
        onAssigned: (tps) => this.onAssigned(tps),
        onRevoked: (tps) => this.onRevoked(tps),
        onBatch: (batch) => this.onBatch(batch),
        onRebalancing: (memberLost) => this.beforeRebalance(memberLost),
        onError: (error) => this.fail(error),
        onDisconnected: (error) => this.consumerDisconnected(error),
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
      this.lag.start();
      this.unwatchStores = this.metrics.watchStoreEntries(() => this.storeEntries());
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
    let expired = false;
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'expired'>((resolve) => {
      deadline = setTimeout(() => {
        expired = true;
        resolve('expired');
      }, timeoutMs);
    });
    /** Waits for `work` until the deadline; false if the deadline came first. A failure is logged, not thrown. */
    const inTime = async (what: string, work: Promise<unknown> | undefined): Promise<boolean> => {
      if (work === undefined) return true;
      const done = work.then(
        () => 'done' as const,
        (error: unknown) => {
          this.logger.warn({ err: error }, `stopping: ${what} failed`);
          return 'done' as const;
        },
      );
      return (await Promise.race([done, timedOut])) === 'done';
    };
    /** Closing steps come after the deadline too: each gets a few seconds more, then is given up. */
    const closing = async (what: string, work: Promise<unknown> | undefined): Promise<void> => {
      if (work === undefined) return;
      let grace: NodeJS.Timeout | undefined;
      const given = new Promise<'late'>((resolve) => {
        grace = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
      });
      const done = work.then(
        () => 'done' as const,
        (error: unknown) => {
          this.logger.warn({ err: error }, `stopping: ${what} failed`);
          return 'done' as const;
        },
      );
      if ((await Promise.race([done, given])) === 'late')
        this.logger.warn(
          { graceMs: CLOSE_GRACE_MS },
          `stopping: ${what} did not finish; going on without it`,
        );
      clearTimeout(grace);
    };
    try {
      this.outage.close();
      clearInterval(this.commitTimer);
      clearInterval(this.punctuationTimer);
      this.lag.stop();
      this.unwatchStores?.();
      /** What the deadline cut short, if it did. */
      let heldUpBy: string | undefined;
      // a consumer exists once start() got that far: let it finish joining, then leave (start() creates
      // none after this point: it sees the state change)
      if (this.consumer !== undefined && !(await inTime('joining the group', this.startup)))
        heldUpBy = 'still joining the group';
      this.consumer?.pause([...this.tasks.values()].flatMap((t) => t.inputPartitions()));
      if (heldUpBy === undefined && this.currentState !== 'failed') {
        const drained = (async () => {
          while (this.processing > 0 && !expired) await new Promise((r) => setTimeout(r, 5));
        })();
        if (!(await inTime('finishing the batches in progress', drained)) || this.processing > 0)
          heldUpBy = `${this.processing} batch(es) still in flight abandoned uncommitted`;
        else if (!(await inTime('sending their output', this.outbox?.flush())))
          heldUpBy = 'output not acknowledged by the log, abandoned uncommitted';
      }
      // a send still retrying (the brokers down) is given up: its batches are not committed
      this.outbox?.abandon();
      // what the log acknowledged is committed, abandoned batches are not (their offsets are not committable)
      if (this.currentState !== 'failed') await closing('committing', this.commit());
      await closing('leaving the group', this.consumer?.stop());
      const clean = heldUpBy === undefined && this.currentState !== 'failed';
      for (const task of this.tasks.values()) {
        await closing(`closing task ${task.id}`, task.close({ clean }));
        await closing(`closing the producer of task ${task.id}`, this.closeTaskProducer(task.id));
      }
      this.tasks.clear();
      this.tpToTask.clear();
      this.metrics.tasks.set({ application: this.applicationId }, 0);
      if (this.currentState !== 'failed') this.setState('stopped');
      if (heldUpBy !== undefined) {
        throw new VeroaiError(
          'VEROAI_ERR_STOP_TIMEOUT',
          `the stop did not finish within ${timeoutMs} ms (${heldUpBy}); the group was left, uncommitted input is reprocessed on restart`,
          { hint: 'find what held it up (a sink or the brokers down?), or raise stopTimeoutMs' },
        );
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Entries per store name, summed over this instance's tasks (for `veroai_state_store_entries`). */
  private *storeEntries(): Iterable<readonly [string, number]> {
    for (const name of this.topology.stores.keys()) {
      const local = this.localStores(name);
      if (local.length > 0) yield [name, local.reduce((n, { store }) => n + store.approximateEntries(), 0)];
    }
  }

  /** Tasks this instance runs now, by id (`<subTopology>_<partition>`). */
  activeTasks(): ReadonlyMap<string, StreamTask> {
    return this.tasks;
  }

  /** Local instances of a store: one per task that owns it here. */
  localStores(name: string): Array<{ partition: number; store: StateStore }> {
    const out: Array<{ partition: number; store: StateStore }> = [];
    for (const task of this.tasks.values()) {
      const store = task.store(name);
      if (store !== undefined) out.push({ partition: task.partition, store });
    }
    return out;
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
    const spec = this.topology.stores.get(storeName);
    if (spec === undefined) {
      throw new TopologyError(
        `queryStore(): no state store named '${storeName}' in this topology`,
        `stores: ${[...this.topology.stores.keys()].join(', ') || 'none'}`,
      );
    }
    const sub = this.topology.subTopologies.find((s) => s.stores.some((st) => st.name === storeName));
    if (sub === undefined) return undefined;
    const topic = changelogTopic(this.applicationId, storeName);
    // a sub-topology has one task per partition of its widest source
    const counts = sub.sources.flatMap((s) =>
      s.topics.map((t) => this.partitions.get(topicName(t, this.applicationId))),
    );
    if (counts.length === 0 || counts.some((c) => c === undefined)) return undefined;
    const partitions = Math.max(...(counts as number[]));
    const partition = partitionForKey((keySerde ?? spec.keySerde).serialize(key, topic), partitions, () => 0);
    return this.tasks.get(`${sub.id}_${partition}`)?.store(storeName) as S | undefined;
  }

  /**
   * The brokers' outage in progress, if any: since when (the first failure
   * with a connectivity cause) and its last error. Readiness reports it.
   * Past `maxBrokerOutageMs` the application fails.
   */
  brokerOutage(): BrokerOutageState | undefined {
    return this.outage.state();
  }

  /** True while a batch is being processed or output is unacknowledged. */
  busy(): boolean {
    return this.processing > 0 || [...this.tasks.values()].some((t) => t.backlog > 0);
  }

  /**
   * Runs due wall-clock punctuations: an empty batch per task that has one,
   * through the same path as data (so its output is sent, or transacted, alike).
   * Called every 100 ms; the TestDriver calls it when it moves time.
   */
  async punctuate(): Promise<void> {
    if (this.currentState !== 'running') return;
    const due = [...this.tasks.values()].filter((t) => t.wallClockDue());
    for (const task of due) {
      const input = task.firstInput();
      if (input === undefined) continue;
      await this.onBatch({ topic: input.topic, partition: input.partition, records: [] }).catch((error) =>
        this.logger.warn({ err: error, task: task.id }, 'punctuation failed'),
      );
    }
  }

  /** Commits every offset whose batch output is acknowledged. */
  async commit(): Promise<void> {
    if (this.consumer === undefined) return;
    const taken = [...this.tasks.values()].map((task) => ({ task, offsets: task.takeCommittable() }));
    // exactly_once: offsets were committed inside each batch's transaction
    if (this.exactlyOnce) return;
    const offsets = taken.flatMap((t) => t.offsets);
    if (offsets.length === 0) return;
    const end = this.metrics.commitLatency.startTimer({ application: this.applicationId });
    try {
      await this.consumer.commit(offsets);
    } catch (error) {
      // a failed commit (e.g. during a rebalance) is retried with the next one, unless newer offsets overtook it
      for (const { task, offsets: own } of taken) task.returnCommittable(own);
      if (this.unreachable(error)) this.outage.failed(error);
      throw error;
    } finally {
      end();
    }
    this.outage.succeeded();
    if (this.currentState !== 'running') return;
    for (const { task } of taken) {
      await task
        .checkpointIfDue(CHECKPOINT_AFTER_CHANGELOG_RECORDS)
        .catch((e) =>
          this.logger.warn({ err: e, task: task.id }, 'could not write the checkpoint; will retry'),
        );
    }
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

  private async prepareTopics(): Promise<void> {
    const { topology, applicationId } = this;
    const external = new Set<string>();
    for (const sub of topology.subTopologies) {
      for (const node of sub.nodes) {
        if (node.kind === 'source')
          for (const t of node.topics) if (t.kind === 'external') external.add(t.name);
        if (node.kind === 'sink' && node.topic.kind === 'external') {
          external.add(node.topic.name);
          this.endToEndTopics.add(node.topic.name);
        }
      }
    }
    const missing: string[] = [];
    for (const topic of external) {
      const count = await this.transport.partitionCount(topic);
      if (count === undefined) missing.push(topic);
      else this.partitions.set(topic, count);
    }
    if (missing.length > 0) {
      throw new TopologyError(
        `topics missing on the ${this.transport.kind} transport: ${missing.join(', ')}`,
        'create them first (veroai topics create, or your platform tooling)',
      );
    }
    const specs: TopicSpec[] = [];
    // sub-topologies are in build order, so a repartition topic's writer comes before its reader
    for (const sub of topology.subTopologies) {
      const sourceCounts = sub.sources.flatMap((s: SourceNode) =>
        s.topics.map((t) => this.partitions.get(topicName(t, applicationId))),
      );
      if (sourceCounts.some((c) => c === undefined)) {
        throw new TopologyError(
          `sub-topology ${sub.id} reads a repartition topic written by a later sub-topology`,
          'this is a bug in the topology compiler; please report it',
        );
      }
      const tasks = Math.max(...(sourceCounts as number[]));
      for (const sink of sub.sinks) {
        if (sink.topic.kind !== 'internal') continue;
        const name = topicName(sink.topic, applicationId);
        const fixed = topology.repartitionTopics.get(sink.topic.name)?.partitions;
        this.partitions.set(name, fixed ?? tasks);
        specs.push({ name, partitions: fixed ?? tasks });
      }
      for (const store of sub.stores) {
        if (!store.changelog) continue;
        const name = changelogTopic(applicationId, store.name);
        this.partitions.set(name, tasks);
        specs.push({ name, partitions: tasks, compacted: true });
      }
      for (const source of sub.sources)
        for (const t of source.topics) this.topicToSubTopology.set(topicName(t, applicationId), sub);
    }
    const dlq = deadLetterTopic(applicationId);
    const dlqPartitions = Math.max(1, ...this.partitions.values());
    specs.push({ name: dlq, partitions: (await this.transport.partitionCount(dlq)) ?? dlqPartitions });
    const late = lateRecordsTopic(applicationId);
    specs.push({ name: late, partitions: (await this.transport.partitionCount(late)) ?? dlqPartitions });
    await this.transport.ensureTopics(specs);
    for (const spec of specs)
      this.partitions.set(spec.name, (await this.transport.partitionCount(spec.name)) ?? spec.partitions);
  }

  private async prepareSerdes(): Promise<void> {
    const { applicationId } = this;
    for (const sub of this.topology.subTopologies) {
      for (const node of sub.nodes) {
        if (node.kind === 'source') {
          for (const t of node.topics) {
            await node.keySerde.prepare?.(topicName(t, applicationId));
            await node.valueSerde.prepare?.(topicName(t, applicationId));
          }
        } else if (node.kind === 'sink') {
          await node.keySerde.prepare?.(topicName(node.topic, applicationId));
          await node.valueSerde.prepare?.(topicName(node.topic, applicationId));
        }
      }
      for (const store of sub.stores) {
        await store.keySerde.prepare?.(changelogTopic(applicationId, store.name));
        await store.valueSerde.prepare?.(changelogTopic(applicationId, store.name));
      }
    }
  }

  private environment(): TaskEnvironment {
    return {
      applicationId: this.applicationId,
      transport: this.transport,
      metrics: this.metrics,
      logger: this.logger,
      deadLetterTopic: deadLetterTopic(this.applicationId),
      lateTopic: lateRecordsTopic(this.applicationId),
      readCommitted: this.exactlyOnce,
      stateDir: this.config.stateDir ?? join(tmpdir(), 'veroai-streams'),
      defaultStoreType: this.config.defaultStoreType ?? 'memory',
      partitionCount: (topic) => this.partitionCount(topic),
      partitionFor: (topic, key) => partitionForKey(key, this.partitionCount(topic), () => this.roundRobin++),
      now: this.clock,
    };
  }

  private partitionCount(topic: string): number {
    const count = this.partitions.get(topic);
    if (count === undefined)
      throw new TopologyError(
        `no partition count known for topic '${topic}'`,
        'is it a sink of this topology?',
      );
    return count;
  }

  /**
   * Creates (and restores) the tasks of newly assigned partitions. Assignment
   * changes run one after another: the consumer may report a partition both
   * from its group-join event and from its first batch, and two creations of
   * one task would build two stores and, under exactly_once, two producers
   * with one transactional id that fence each other.
   */
  private onAssigned(tps: readonly TopicPartition[]): Promise<void> {
    return this.serialiseAssignment(() => this.assign(tps));
  }

  private onRevoked(tps: readonly TopicPartition[]): Promise<void> {
    return this.serialiseAssignment(() => this.revoke(tps));
  }

  /** A task that cannot be created or restored is fatal, as in Kafka Streams: the application stops. */
  private serialiseAssignment(change: () => Promise<void>): Promise<void> {
    const run = this.assignmentChanges.then(change).catch((error: unknown) => this.fail(error));
    this.assignmentChanges = run;
    return run;
  }

  /**
   * Builds the tasks of newly assigned partitions, then restores all their
   * stores together (one changelog reader per topic, as Kafka Streams' restore
   * consumer) before any of them processes. When the brokers become
   * unreachable meanwhile (within maxBrokerOutageMs), the new tasks are
   * dropped and their partitions given up until the group is rejoined.
   */
  private async assign(tps: readonly TopicPartition[]): Promise<void> {
    const created = new Map<string, StreamTask>();
    try {
      await this.createTasks(tps, created);
    } catch (error) {
      if (!(this.unreachable(error) && this.currentState === 'running' && this.outage.failed(error)))
        throw error;
      // the brokers went away while the tasks were created or restored: they are dropped and their partitions
      // given up; the group hands them out again when it is rejoined, the brokers back
      this.logger.warn(
        { err: error, tasks: [...created.keys()] },
        'the Kafka brokers unreachable while creating tasks: giving their partitions up and rejoining the group',
      );
      for (const task of created.values()) {
        if (this.tasks.get(task.id) === task) this.tasks.delete(task.id);
        await task
          .close({ clean: false })
          .catch((e) => this.logger.warn({ err: e, task: task.id }, 'closing failed'));
        await this.closeTaskProducer(task.id);
      }
      const taskless = tps.filter((tp) => {
        const sub = this.topicToSubTopology.get(tp.topic);
        return sub !== undefined && !this.tasks.has(`${sub.id}_${tp.partition}`);
      });
      this.consumer?.rejoin?.(taskless);
      this.metrics.tasks.set({ application: this.applicationId }, this.tasks.size);
    }
  }

  /** assign(): `created` holds the tasks made so far, for a failure to close. */
  private async createTasks(tps: readonly TopicPartition[], created: Map<string, StreamTask>): Promise<void> {
    /** The task of each assigned partition this application reads, by partition. */
    const taskIds = new Map<TopicPartition, string>();
    for (const tp of tps) {
      const sub = this.topicToSubTopology.get(tp.topic);
      if (sub === undefined) continue;
      const id = `${sub.id}_${tp.partition}`;
      taskIds.set(tp, id);
      if (this.tasks.has(id) || created.has(id)) continue;
      if (this.exactlyOnce) {
        // fences a zombie owner of this task and aborts its open transaction before we restore
        this.taskProducers.set(id, await this.transport.transactionalProducer(`${this.applicationId}-${id}`));
      }
      created.set(id, new StreamTask(sub, tp.partition, this.environment()));
    }
    const restores = [];
    for (const task of created.values()) restores.push(...(await task.openStores()));
    await restoreChangelogs(restores, {
      transport: this.transport,
      metrics: this.metrics,
      logger: this.logger,
      readCommitted: this.exactlyOnce,
    });
    /**
     * Read after fencing: a zombie's transaction has completed, so these offsets match the restored state.
     * Under every guarantee the metadata committed with them carries each task's stream time.
     */
    const committed = new Map<string, Promise<Array<CommitOffset | undefined>>>();
    for (const task of created.values()) {
      for (const { topic, partition } of task.inputPartitions()) {
        if (!committed.has(topic))
          committed.set(topic, this.transport.committedPositions(this.applicationId, topic));
        const position = (await committed.get(topic)!)[partition];
        if (position === undefined) continue;
        task.restoreStreamTime(position.metadata);
        if (this.exactlyOnce) task.startAt(topic, partition, position.offset);
      }
      this.tasks.set(task.id, task);
      // kafkajs keeps a partition paused across rebalances: a new task starts with its input flowing
      this.consumer?.resume(task.inputPartitions());
      this.logger.info({ task: task.id }, 'task created');
    }
    for (const [tp, id] of taskIds) {
      this.tpToTask.set(tpKey(tp.topic, tp.partition), this.tasks.get(id)!);
      this.lag.assigned([tp]);
    }
    this.metrics.tasks.set({ application: this.applicationId }, this.tasks.size);
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
  private async beforeRebalance(memberLost: boolean): Promise<void> {
    if (this.currentState !== 'running') return;
    const deadline = Date.now() + REBALANCE_FLUSH_TIMEOUT_MS;
    while (this.processing > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await Promise.all(this.transactions.values());
    await this.outbox?.flush();
    if (memberLost) return;
    await this.commit().catch((e) =>
      this.logger.warn({ err: e }, 'commit before the rebalance failed; the next owner will reprocess'),
    );
  }

  /**
   * A task whose producer was fenced migrated to another instance: it is
   * closed dirty (its state may be ahead of what was committed) and the
   * consumer gives up its partitions and rejoins the group; the other tasks
   * keep running. If the group gives the partitions back, the task is
   * created again and restored from its changelogs.
   */
  private async taskMigrated(task: StreamTask, error: unknown, why = 'task migrated'): Promise<void> {
    if (this.tasks.get(task.id) !== task) return;
    this.logger.warn({ task: task.id, err: error }, `${why}: closing it and rejoining the group`);
    this.tasks.delete(task.id);
    for (const tp of task.inputPartitions()) this.tpToTask.delete(tpKey(tp.topic, tp.partition));
    this.lag.revoked(task.inputPartitions());
    if (this.pausedTasks.delete(task.id))
      this.metrics.pausedPartitions.dec({ application: this.applicationId }, task.inputPartitions().length);
    this.consumer?.rejoin?.(task.inputPartitions());
    await task
      .close({ clean: false })
      .catch((e) => this.logger.warn({ err: e, task: task.id }, 'closing failed'));
    await this.closeTaskProducer(task.id);
    this.metrics.tasks.set({ application: this.applicationId }, this.tasks.size);
  }

  private async revoke(tps: readonly TopicPartition[]): Promise<void> {
    const affected = new Set<StreamTask>();
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition);
      const task = this.tpToTask.get(key);
      if (task !== undefined) affected.add(task);
      this.tpToTask.delete(key);
    }
    this.lag.revoked(tps);
    await this.outbox?.flush();
    await this.commit().catch((e) =>
      this.logger.warn({ err: e }, 'commit on revocation failed; the new owner will reprocess'),
    );
    for (const task of affected) {
      if (task.inputPartitions().some((tp) => this.tpToTask.has(tpKey(tp.topic, tp.partition)))) continue;
      await this.transactions.get(task.id);
      await task.close({ clean: this.currentState !== 'failed' });
      await this.closeTaskProducer(task.id);
      this.tasks.delete(task.id);
      if (this.pausedTasks.delete(task.id)) {
        this.consumer?.resume(task.inputPartitions());
        this.metrics.pausedPartitions.dec({ application: this.applicationId }, task.inputPartitions().length);
      }
      this.logger.info({ task: task.id }, 'task closed');
    }
    this.metrics.tasks.set({ application: this.applicationId }, this.tasks.size);
  }

  private async onBatch(batch: ConsumedBatch): Promise<void> {
    if (this.currentState !== 'running' && this.currentState !== 'starting') return;
    const task = this.tpToTask.get(tpKey(batch.topic, batch.partition));
    if (task === undefined) {
      throw new TopologyError(
        `no task owns ${batch.topic}:${batch.partition}`,
        'the consumer delivered a partition it did not assign',
      );
    }
    this.processing += 1;
    const end = this.metrics.batchDuration.startTimer({ application: this.applicationId });
    try {
      let processed: ProcessedBatch;
      try {
        processed = await task.process(batch);
      } catch (error) {
        // a store failed, or a step failed naming no record: the task's state is not to be trusted and
        // nothing of the batch was committed; the application fails (a restart restores from the changelogs)
        this.fail(error);
        throw error;
      }
      // migrated while this batch waited: nothing of it is committed, the new owner processes it
      if (this.tasks.get(task.id) !== task) throw new TaskMigratedError(task.id, undefined);
      this.lag.advanced(processed.offsets);
      if (this.exactlyOnce) {
        await this.commitTransaction(task, processed);
      } else {
        this.outbox!.enqueue(processed.records, () => {
          processed.acknowledge();
          this.maybeResume(task);
        });
      }
    } finally {
      end();
      this.processing -= 1;
    }
    if (task.backlog >= this.maxInFlight && !this.pausedTasks.has(task.id)) {
      this.pausedTasks.add(task.id);
      this.consumer?.pause(task.inputPartitions());
      this.metrics.pausedPartitions.inc({ application: this.applicationId }, task.inputPartitions().length);
    }
  }

  /**
   * exactly_once: the batch's output (results, changelog records, dead letters)
   * and its input offsets in one transaction of the task's producer. A failed
   * transaction is aborted and the application fails: its in-memory state has
   * run ahead of what the log committed, and a restart rebuilds it from the
   * changelogs, as Kafka Streams closes such a task dirty. When it failed
   * because the brokers are unreachable (within maxBrokerOutageMs), only the
   * task is lost, as a migrated one: it is closed dirty, its partitions given
   * up and the group rejoined once the brokers answer; it is then created
   * again, restored from its changelogs and fed from the committed offsets
   * (Kafka Streams' corrupted task).
   */
  private async commitTransaction(task: StreamTask, processed: ProcessedBatch): Promise<void> {
    const producer = this.taskProducers.get(task.id);
    if (producer === undefined)
      throw new TopologyError(
        `task ${task.id} has no transactional producer`,
        'this is a bug; please report it',
      );
    if (processed.records.length === 0 && processed.offsets.length === 0) {
      processed.acknowledge();
      return;
    }
    const previous = this.transactions.get(task.id) ?? Promise.resolve();
    const run = previous.then(() => {
      // closed (lost with a transaction before this one) while this batch waited: nothing of it is sent
      if (this.tasks.get(task.id) !== task) throw new TaskMigratedError(task.id, undefined);
      return producer.sendTransaction(processed.records, processed.offsets, this.applicationId);
    });
    this.transactions.set(
      task.id,
      run.catch(() => undefined),
    );
    try {
      await run;
    } catch (error) {
      if (error instanceof TaskMigratedError) {
        // the consumer rejoins on this failure; the batch is read again by whoever owns it then
        await this.taskMigrated(task, error);
        throw error;
      }
      if (this.unreachable(error) && this.currentState === 'running' && this.outage.failed(error)) {
        await this.taskMigrated(task, error, 'transaction failed, the Kafka brokers unreachable');
        throw error;
      }
      this.fail(this.unreachable(error) && this.outage.state() ? this.outage.exceededError() : error);
      throw error;
    }
    this.outage.succeeded();
    processed.acknowledge();
    this.countProduced(processed.records);
  }

  /** True when the transport says `error` means the brokers could not be reached. */
  private unreachable(error: unknown): boolean {
    return this.transport.unreachable?.(error) ?? false;
  }

  /**
   * The consumer lost the brokers (after its own retries). While the
   * application runs and the outage is within its bound, it reconnects by
   * itself and the tasks stay; past the bound the application fails.
   */
  private consumerDisconnected(error: unknown): boolean {
    if (this.currentState !== 'running') return false;
    if (!this.outage.failed(error)) {
      this.fail(this.outage.exceededError());
      return false;
    }
    this.logger.warn(
      {
        err: error,
        outageSince: new Date(this.outage.state()!.since).toISOString(),
        maxBrokerOutageMs: this.outage.maxMs,
      },
      'the consumer lost the Kafka brokers; reconnecting',
    );
    return true;
  }

  private maybeResume(task: StreamTask): void {
    if (!this.pausedTasks.has(task.id) || task.backlog > this.maxInFlight / 2) return;
    if (this.currentState !== 'running') return;
    this.pausedTasks.delete(task.id);
    this.consumer?.resume(task.inputPartitions());
    this.metrics.pausedPartitions.dec({ application: this.applicationId }, task.inputPartitions().length);
  }

  private async closeTaskProducer(taskId: string): Promise<void> {
    const producer = this.taskProducers.get(taskId);
    this.taskProducers.delete(taskId);
    this.transactions.delete(taskId);
    await producer
      ?.close()
      .catch((e) => this.logger.warn({ err: e, task: taskId }, 'closing the task producer failed'));
  }

  private countProduced(records: readonly OutgoingRecord[]): void {
    this.metrics.acknowledged(records, this.clock(), this.endToEndTopics);
  }
}

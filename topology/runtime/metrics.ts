import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutgoingRecord } from '../record.js';

/**
 * One node's counts for one batch. `recordsKept`: records a repartition in
 * place kept in the task (the rest of its `recordsIn` crossed the topic).
 */
export interface NodeBatchCounts {
  readonly node: string;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly recordsKept: number;
  busySeconds(): number | undefined;
}

/** Where the store-entries gauge reads, at scrape time, the entries of one application's local stores. */
export type StoreEntriesSource = () => Iterable<readonly [store: string, entries: number]>;

/** The applications sharing a registry each register a source; the gauge asks all of them when scraped. */
const storeEntriesSources = new WeakMap<object, Map<string, StoreEntriesSource>>();

/**
 * The engine's Prometheus metrics (prefix `veroai_`). Per-record counts are
 * summed in plain objects and added to prom-client once per batch: label
 * look-ups per record would cost more than the processing.
 */
export class RuntimeMetrics {
  private readonly nodeRecords: Counter<'application' | 'node' | 'direction'>;
  private readonly consumedTotal: Counter<'application' | 'topic'>;
  private readonly producedTotal: Counter<'application' | 'topic'>;
  private readonly deadLetterTotal: Counter<'application' | 'topic' | 'code'>;
  private readonly restoredTotal: Counter<'application' | 'store'>;
  private readonly restoreRemainingRecords: Gauge<'application' | 'store' | 'partition'>;
  private readonly lateRecords: Counter<'application' | 'node'>;
  private readonly punctuatorFailures: Counter<'application' | 'node'>;
  readonly commitLatency: Histogram<'application'>;
  readonly batchDuration: Histogram<'application'>;
  readonly tasks: Gauge<'application'>;
  readonly pausedPartitions: Gauge<'application'>;
  private readonly nodeProcessSeconds: Histogram<'application' | 'node'>;
  private readonly consumerLag: Gauge<'application' | 'topic' | 'partition'>;
  private readonly endToEndLatency: Histogram<'application' | 'topic'>;
  private readonly storeEntries: Gauge<'application' | 'store'>;

  constructor(
    registry: Registry,
    private readonly applicationId: string,
  ) {
    const registers = [registry];
    const get = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
    this.nodeRecords =
      get('veroai_node_records_total') ??
      new Counter({
        name: 'veroai_node_records_total',
        help: 'Records into and out of each processor node; direction=kept: records a repartition in place kept in its task',
        labelNames: ['application', 'node', 'direction'],
        registers,
      });
    this.consumedTotal =
      get('veroai_records_consumed_total') ??
      new Counter({
        name: 'veroai_records_consumed_total',
        help: 'Records read from source topics',
        labelNames: ['application', 'topic'],
        registers,
      });
    this.producedTotal =
      get('veroai_records_produced_total') ??
      new Counter({
        name: 'veroai_records_produced_total',
        help: 'Records acknowledged by the log, per destination topic',
        labelNames: ['application', 'topic'],
        registers,
      });
    this.deadLetterTotal =
      get('veroai_dlq_records_total') ??
      new Counter({
        name: 'veroai_dlq_records_total',
        help: 'Records sent to the dead-letter topic, by source topic and error code',
        labelNames: ['application', 'topic', 'code'],
        registers,
      });
    this.lateRecords =
      get('veroai_late_records_total') ??
      new Counter({
        name: 'veroai_late_records_total',
        help: 'Records that arrived after their window closed (sent to <applicationId>-late)',
        labelNames: ['application', 'node'],
        registers,
      });
    this.punctuatorFailures =
      get('veroai_punctuator_failures_total') ??
      new Counter({
        name: 'veroai_punctuator_failures_total',
        help: 'Punctuator calls that threw, by processor node (the task fails after several in a row)',
        labelNames: ['application', 'node'],
        registers,
      });
    this.restoredTotal =
      get('veroai_restore_records_total') ??
      new Counter({
        name: 'veroai_restore_records_total',
        help: 'Changelog records replayed into state stores',
        labelNames: ['application', 'store'],
        registers,
      });
    this.restoreRemainingRecords =
      get('veroai_restore_remaining_records') ??
      new Gauge({
        name: 'veroai_restore_remaining_records',
        help: 'Changelog records a store partition still has to restore (end offset minus position; 0 once restored)',
        labelNames: ['application', 'store', 'partition'],
        registers,
      });
    this.commitLatency =
      get('veroai_commit_latency_seconds') ??
      new Histogram({
        name: 'veroai_commit_latency_seconds',
        help: 'Time to commit consumer offsets',
        labelNames: ['application'],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        registers,
      });
    this.batchDuration =
      get('veroai_batch_duration_seconds') ??
      new Histogram({
        name: 'veroai_batch_duration_seconds',
        help: 'Time to process one batch through a task',
        labelNames: ['application'],
        buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
        registers,
      });
    this.tasks =
      get('veroai_tasks') ??
      new Gauge({
        name: 'veroai_tasks',
        help: 'Active tasks on this instance',
        labelNames: ['application'],
        registers,
      });
    this.pausedPartitions =
      get('veroai_paused_partitions') ??
      new Gauge({
        name: 'veroai_paused_partitions',
        help: 'Source partitions paused by backpressure',
        labelNames: ['application'],
        registers,
      });
    this.nodeProcessSeconds =
      get('veroai_node_process_seconds') ??
      new Histogram({
        name: 'veroai_node_process_seconds',
        help: "Time a processor node's own code ran during one batch (its downstream nodes excluded), per batch it received records in",
        labelNames: ['application', 'node'],
        buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers,
      });
    this.consumerLag =
      get('veroai_consumer_lag') ??
      new Gauge({
        name: 'veroai_consumer_lag',
        help: 'Records in a source partition not processed yet: end offset minus the next offset to process',
        labelNames: ['application', 'topic', 'partition'],
        registers,
      });
    this.endToEndLatency =
      get('veroai_end_to_end_latency_seconds') ??
      new Histogram({
        name: 'veroai_end_to_end_latency_seconds',
        help: "From a record's event time to its output being acknowledged by the log (committed, under exactly_once), per output topic",
        labelNames: ['application', 'topic'],
        // windowed outputs come out after their window (and grace) closes: minutes to hours
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600],
        registers,
      });
    this.storeEntries =
      get('veroai_state_store_entries') ??
      new Gauge({
        name: 'veroai_state_store_entries',
        help: "Entries in this instance's state stores, summed over the tasks that own each store (read when scraped)",
        labelNames: ['application', 'store'],
        registers,
        collect() {
          this.reset();
          for (const [application, source] of storeEntriesSources.get(this) ?? []) {
            for (const [store, entries] of source()) this.set({ application, store }, entries);
          }
        },
      });
    if (get('veroai_event_loop_busy_seconds_total') === undefined) eventLoopBusyCounter(registry);
  }

  /** A punctuator of a node threw. */
  punctuatorFailed(node: string): void {
    this.punctuatorFailures.inc({ application: this.applicationId, node });
  }

  /** A record too late for its window, at a windowed node. */
  late(node: string): void {
    this.lateRecords.inc({ application: this.applicationId, node });
  }

  /**
   * Records into and out of a node during one batch and, when measured, the
   * seconds its own code ran (observed only for batches that fed it records,
   * so idle nodes do not drag the quantiles to zero).
   */
  processed(counts: NodeBatchCounts): void {
    const { node, recordsIn, recordsOut, recordsKept } = counts;
    const application = this.applicationId;
    if (recordsIn > 0) this.nodeRecords.inc({ application, node, direction: 'in' }, recordsIn);
    if (recordsOut > 0) this.nodeRecords.inc({ application, node, direction: 'out' }, recordsOut);
    if (recordsKept > 0) this.nodeRecords.inc({ application, node, direction: 'kept' }, recordsKept);
    const busySeconds = counts.busySeconds();
    if (recordsIn > 0 && busySeconds !== undefined)
      this.nodeProcessSeconds.observe({ application, node }, busySeconds);
  }

  /**
   * Output acknowledged by the log (or committed in a transaction): counts it
   * per topic and, for the topics in `endToEndTopics`, observes each record's
   * end-to-end latency, `now` minus its event time (never below zero).
   */
  acknowledged(records: readonly OutgoingRecord[], now: number, endToEndTopics: ReadonlySet<string>): void {
    const counts = new Map<string, number>();
    let topic: string | undefined;
    let latency: { observe(seconds: number): void } | undefined;
    for (const r of records) {
      counts.set(r.topic, (counts.get(r.topic) ?? 0) + 1);
      if (!endToEndTopics.has(r.topic)) continue;
      // a batch's records mostly share a topic: one label look-up per run of them
      if (r.topic !== topic) {
        topic = r.topic;
        latency = this.endToEndLatency.labels({ application: this.applicationId, topic });
      }
      latency!.observe(Math.max(0, now - r.timestamp) / 1000);
    }
    for (const [t, n] of counts) this.produced(t, n);
  }

  /** Sets the lag of one source partition. */
  lag(topic: string, partition: number, records: number): void {
    this.consumerLag.set({ application: this.applicationId, topic, partition: String(partition) }, records);
  }

  /** Drops the lag series of a partition this instance no longer owns. */
  forgetLag(topic: string, partition: number): void {
    this.consumerLag.remove({ application: this.applicationId, topic, partition: String(partition) });
  }

  /**
   * Registers where this application's store sizes are read when the registry
   * is scraped (one source per application; a second call replaces the first).
   * Returns the call that unregisters it.
   */
  watchStoreEntries(source: StoreEntriesSource): () => void {
    let sources = storeEntriesSources.get(this.storeEntries);
    if (sources === undefined) {
      sources = new Map();
      storeEntriesSources.set(this.storeEntries, sources);
    }
    sources.set(this.applicationId, source);
    return () => {
      if (sources.get(this.applicationId) === source) sources.delete(this.applicationId);
    };
  }

  consumed(topic: string, n: number): void {
    this.consumedTotal.inc({ application: this.applicationId, topic }, n);
  }

  produced(topic: string, n: number): void {
    this.producedTotal.inc({ application: this.applicationId, topic }, n);
  }

  deadLettered(topic: string, code: string): void {
    this.deadLetterTotal.inc({ application: this.applicationId, topic, code });
  }

  /**
   * Creates the per-store series that only grow on rare events (restores) at
   * zero, so a dashboard shows "nothing restored" rather than no data.
   */
  declareStores(stores: Iterable<string>): void {
    for (const store of stores) this.restoredTotal.inc({ application: this.applicationId, store }, 0);
  }

  restored(store: string, n: number): void {
    this.restoredTotal.inc({ application: this.applicationId, store }, n);
  }

  /** Records one store partition still has to restore from its changelog. */
  restoreRemaining(store: string, partition: number, records: number): void {
    this.restoreRemainingRecords.set(
      { application: this.applicationId, store, partition: String(partition) },
      records,
    );
  }
}

/**
 * `veroai_event_loop_busy_seconds_total`, one per registry: the event loop's
 * busy time (performance.eventLoopUtilization().active), read when scraped.
 * Wall time, not CPU time: a loop that is ready to run but waits for a core
 * counts as busy too, which is what latency feels. The consumer fetches again
 * as soon as a fetch's batches are processed, so the loop stays busy at
 * moderate rates too (the freshness bench: 0.93–0.96 from 3,000 to 10,000
 * events/s): a low rate says there is headroom; near 1, lag says whether the
 * instance keeps up.
 */
function eventLoopBusyCounter(registry: Registry): Counter {
  return new Counter({
    name: 'veroai_event_loop_busy_seconds_total',
    help: "Time this process's event loop was busy (not waiting for I/O or timers); its rate is the main thread's utilization, where every task's processing runs. Near 1 there is no headroom: the consumer fetches again as soon as a fetch's batches are processed, so a busy thread takes more, smaller batches rather than idling, and lag (veroai_consumer_lag) tells whether it keeps up",
    registers: [registry],
    collect() {
      // the loop's busy time since it started, monotonic: the counter is set to it
      this.reset();
      this.inc(performance.eventLoopUtilization().active / 1000);
    },
  });
}

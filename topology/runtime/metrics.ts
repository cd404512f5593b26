import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

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
  private readonly lateRecords: Counter<'application' | 'node'>;
  readonly commitLatency: Histogram<'application'>;
  readonly batchDuration: Histogram<'application'>;
  readonly tasks: Gauge<'application'>;
  readonly pausedPartitions: Gauge<'application'>;

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
        help: 'Records into and out of each processor node',
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
    this.restoredTotal =
      get('veroai_restore_records_total') ??
      new Counter({
        name: 'veroai_restore_records_total',
        help: 'Changelog records replayed into state stores',
        labelNames: ['application', 'store'],
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
  }

  /** A record too late for its window, at a windowed node. */
  late(node: string): void {
    this.lateRecords.inc({ application: this.applicationId, node });
  }

  /** Records into and out of a node during one batch. */
  processed(node: string, recordsIn: number, recordsOut: number): void {
    if (recordsIn > 0)
      this.nodeRecords.inc({ application: this.applicationId, node, direction: 'in' }, recordsIn);
    if (recordsOut > 0)
      this.nodeRecords.inc({ application: this.applicationId, node, direction: 'out' }, recordsOut);
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

  restored(store: string, n: number): void {
    this.restoredTotal.inc({ application: this.applicationId, store }, n);
  }
}

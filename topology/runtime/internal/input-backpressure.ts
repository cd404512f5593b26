import type { TransportConsumer } from '../../transports/transport.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { StreamTask } from '../stream-task.js';

/**
 * Backpressure on the input: a task holding `maxInFlight` processed but
 * unacknowledged batches has its partitions paused until half of them are
 * acknowledged (`veroai_paused_partitions` counts the paused partitions).
 */
export class InputBackpressure {
  private readonly paused = new Set<string>();

  constructor(
    private readonly maxInFlight: number,
    private readonly consumer: () => TransportConsumer | undefined,
    private readonly running: () => boolean,
    private readonly metrics: RuntimeMetrics,
    private readonly applicationId: string,
  ) {}

  /** After a batch: pauses the task's input if it holds too many unacknowledged batches. */
  pauseIfFull(task: StreamTask): void {
    if (task.backlog < this.maxInFlight || this.paused.has(task.id)) return;
    this.paused.add(task.id);
    this.consumer()?.pause(task.inputPartitions());
    this.metrics.pausedPartitions.inc({ application: this.applicationId }, task.inputPartitions().length);
  }

  /** After an acknowledgement: resumes a paused task's input once half its backlog is acknowledged. */
  resumeIfDrained(task: StreamTask): void {
    if (!this.paused.has(task.id) || task.backlog > this.maxInFlight / 2) return;
    if (!this.running()) return;
    this.paused.delete(task.id);
    this.consumer()?.resume(task.inputPartitions());
    this.metrics.pausedPartitions.dec({ application: this.applicationId }, task.inputPartitions().length);
  }

  /**
   * The task is gone: it no longer counts as paused. `resumeInput`: its
   * partitions are resumed too (the consumer keeps a partition paused
   * across a rebalance).
   */
  release(task: StreamTask, resumeInput: boolean): void {
    if (!this.paused.delete(task.id)) return;
    if (resumeInput) this.consumer()?.resume(task.inputPartitions());
    this.metrics.pausedPartitions.dec({ application: this.applicationId }, task.inputPartitions().length);
  }
}

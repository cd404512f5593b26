import type { TopicPartition } from '../../record.js';
import { tpKey } from '../../record.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { StreamTask } from '../stream-task.js';

/**
 * The tasks an instance runs, by id (`<subTopology>_<partition>`), and the
 * task that owns each input partition the consumer has assigned. The two
 * views part for a while: a revoked partition loses its owner before its
 * task is closed.
 */
export class ActiveTasks {
  private readonly tasks = new Map<string, StreamTask>();
  private readonly owners = new Map<string, StreamTask>();

  constructor(
    private readonly metrics: RuntimeMetrics,
    private readonly applicationId: string,
  ) {}

  /** The tasks by id, live. */
  byId(): ReadonlyMap<string, StreamTask> {
    return this.tasks;
  }

  get size(): number {
    return this.tasks.size;
  }

  values(): IterableIterator<StreamTask> {
    return this.tasks.values();
  }

  get(id: string): StreamTask | undefined {
    return this.tasks.get(id);
  }

  has(id: string): boolean {
    return this.tasks.has(id);
  }

  /** False once `task` is closed or replaced (it migrated): what it still does is not to be committed. */
  isCurrent(task: StreamTask): boolean {
    return this.tasks.get(task.id) === task;
  }

  add(task: StreamTask): void {
    this.tasks.set(task.id, task);
  }

  delete(id: string): void {
    this.tasks.delete(id);
  }

  /** The task that owns input partition `topic:partition`, if any. */
  ownerOf(topic: string, partition: number): StreamTask | undefined {
    return this.owners.get(tpKey(topic, partition));
  }

  own(tp: TopicPartition, task: StreamTask): void {
    this.owners.set(tpKey(tp.topic, tp.partition), task);
  }

  /** Ends the ownership of `tp`; returns the task that owned it. */
  disown(tp: TopicPartition): StreamTask | undefined {
    const key = tpKey(tp.topic, tp.partition);
    const task = this.owners.get(key);
    this.owners.delete(key);
    return task;
  }

  /** True while one of `task`'s input partitions still has an owner. */
  ownsInput(task: StreamTask): boolean {
    return task.inputPartitions().some((tp) => this.owners.has(tpKey(tp.topic, tp.partition)));
  }

  /** The input partitions of every task. */
  inputPartitions(): TopicPartition[] {
    return [...this.tasks.values()].flatMap((t) => t.inputPartitions());
  }

  clear(): void {
    this.tasks.clear();
    this.owners.clear();
  }

  /** Publishes the number of tasks (`veroai_tasks`). */
  report(): void {
    this.metrics.tasks.set({ application: this.applicationId }, this.tasks.size);
  }
}

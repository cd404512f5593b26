import { type OperatorFunction, Subject, type Subscription } from 'rxjs';
import { ProcessingError, SerializationError } from '../errors.js';
import type { SinkNode } from '../plan/graph.js';
import { RecordFailure } from '../processor.js';
import type { OutgoingRecord, SourceRecord, StreamRecord } from '../record.js';

type AnyRecord = StreamRecord<unknown, unknown>;

/** What a node runner needs from the task that runs it. */
export interface BatchHooks {
  /** Sends the record's source bytes to the dead-letter topic, naming the node and error. */
  deadLetter(record: AnyRecord | undefined, error: unknown, node: string): void;
  emit(record: OutgoingRecord): void;
  partitionFor(topic: string, key: Buffer | null): number;
  /** Charges the batch's synchronous work to the nodes doing it (`veroai_node_process_seconds`). */
  readonly timer: NodeTimer;
}

/** A node of the per-batch graph: receives records, and learns when its parents are done. */
export interface Downstream {
  push(record: AnyRecord): void;
  parentEnded(): void;
}

/** Records into and out of a node during one batch, reported to metrics once at the end of the batch. */
export class NodeCounts {
  recordsIn = 0;
  recordsOut = 0;
  /** Milliseconds the node's own code ran in this batch; undefined when the batch was not timed (see NodeTimer). */
  busyMs: number | undefined;
  constructor(readonly node: string) {}

  /** `busyMs` in seconds, for `veroai_node_process_seconds`. */
  busySeconds(): number | undefined {
    return this.busyMs === undefined ? undefined : this.busyMs / 1000;
  }
}

/**
 * The share of batches whose nodes are timed. A clock read costs tens to
 * hundreds of nanoseconds, twice per node per record; timing a random quarter
 * of the batches keeps that off most records while every busy node still
 * gets many observations a second. Random, so that no task is systematically
 * skipped when tasks take turns.
 */
export const TIMED_BATCH_SHARE = 0.25;

/**
 * Measures each node's own processing time in a batch. Records go down the
 * graph by nested synchronous calls, so the node on top of the call stack is
 * the one working: on entering a node the time since the last switch is
 * charged to the node that was running, and on leaving it to the node being
 * left. That is one clock read per node entry and exit (not a timer per
 * record), and a parent is never charged for its children. Work an operator
 * does after an await (a store read) is not charged until it pushes again.
 * An untimed batch (`NodeTimer.forBatch()` times TIMED_BATCH_SHARE of them)
 * reads no clock and leaves `busyMs` undefined.
 */
export class NodeTimer {
  private running: NodeCounts | undefined;
  private since = 0;

  constructor(readonly timing = true) {}

  /** A timer for one batch, timing or not at random (see TIMED_BATCH_SHARE). */
  static forBatch(random: () => number = Math.random): NodeTimer {
    return new NodeTimer(random() < TIMED_BATCH_SHARE);
  }

  /** `node` starts running; returns the node it interrupts, to hand back to `leave`. */
  enter(node: NodeCounts): NodeCounts | undefined {
    if (!this.timing) return undefined;
    const now = performance.now();
    const interrupted = this.running;
    if (interrupted !== undefined) interrupted.busyMs = (interrupted.busyMs ?? 0) + (now - this.since);
    node.busyMs ??= 0;
    this.running = node;
    this.since = now;
    return interrupted;
  }

  /** The running node returns control to the one it interrupted. */
  leave(interrupted: NodeCounts | undefined): void {
    if (!this.timing) return;
    const now = performance.now();
    if (this.running !== undefined) this.running.busyMs = (this.running.busyMs ?? 0) + (now - this.since);
    this.running = interrupted;
    this.since = now;
  }
}

/**
 * Runs one processor node for one batch: the node's RxJS operator is applied
 * to a Subject fed record by record, so per-subscription state lives for the
 * batch. If the operator errors, the record being pushed (or, for an async
 * error, the last one pushed) goes to the dead-letter topic and the operator is
 * subscribed afresh for the rest of the batch: a poison record never stops a
 * partition. Written once here, for every built-in and custom processor.
 */
export class ProcessorRunner extends NodeCounts implements Downstream {
  private input = new Subject<AnyRecord>();
  private subscription: Subscription | undefined;
  private current: AnyRecord | undefined;
  /** Records pushed in this batch, so that those queued behind a failed one can be pushed again. */
  private pushed: AnyRecord[] = [];
  private inputEnded = false;
  private finished = false;

  constructor(
    private readonly name: string,
    private readonly operator: OperatorFunction<AnyRecord, AnyRecord>,
    private readonly children: readonly Downstream[],
    private openParents: number,
    private readonly hooks: BatchHooks,
  ) {
    super(name);
  }

  start(): void {
    this.input = new Subject<AnyRecord>();
    this.subscription = this.operator(this.input).subscribe({
      next: (record) => this.forward(record),
      error: (error: unknown) => this.fail(error),
      complete: () => this.finish(),
    });
    if (this.inputEnded) this.input.complete();
  }

  /** Emits downstream: the operator's output, and `context.forward()`. */
  forward(record: AnyRecord): void {
    this.recordsOut += 1;
    for (const child of this.children) child.push(record);
  }

  push(record: AnyRecord): void {
    this.recordsIn += 1;
    this.current = record;
    this.pushed.push(record);
    const interrupted = this.hooks.timer.enter(this);
    try {
      this.input.next(record);
    } finally {
      this.hooks.timer.leave(interrupted);
    }
    this.current = undefined;
  }

  parentEnded(): void {
    this.openParents -= 1;
    if (this.openParents <= 0) {
      this.inputEnded = true;
      // completing the input runs the operator's end-of-batch work (flushes, suppression): its time too
      const interrupted = this.hooks.timer.enter(this);
      try {
        this.input.complete();
      } finally {
        this.hooks.timer.leave(interrupted);
      }
    }
  }

  private fail(error: unknown): void {
    this.subscription = undefined;
    // an async operator names its failed record with RecordFailure; a sync one fails while it is pushed
    const failed =
      error instanceof RecordFailure ? error.record : (this.current ?? this.pushed[this.pushed.length - 1]);
    const cause = error instanceof RecordFailure ? error.cause : error;
    this.hooks.deadLetter(failed as AnyRecord | undefined, new ProcessingError(this.name, cause), this.name);
    const wasPushing = this.current !== undefined;
    this.current = undefined;
    const index = failed === undefined ? -1 : this.pushed.lastIndexOf(failed as AnyRecord);
    // records queued behind the failed one (async operators) never reached the dead subscription
    const requeue = wasPushing || index < 0 ? [] : this.pushed.slice(index + 1);
    this.pushed = this.pushed.slice(0, index + 1);
    if (this.inputEnded && requeue.length === 0) {
      this.finish();
      return;
    }
    const ended = this.inputEnded;
    this.inputEnded = false;
    this.start();
    for (const record of requeue) this.push(record);
    if (ended) {
      this.inputEnded = true;
      this.input.complete();
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const child of this.children) child.parentEnded();
  }

  close(): void {
    this.subscription?.unsubscribe();
  }
}

/** Serialises records for a sink topic and hands them to the task's output. */
export class SinkRunner extends NodeCounts implements Downstream {
  constructor(
    private readonly sink: SinkNode,
    private readonly topic: string,
    private openParents: number,
    private readonly hooks: BatchHooks,
    private readonly onEnd: () => void,
  ) {
    super(sink.name);
  }

  push(record: AnyRecord): void {
    this.recordsIn += 1;
    let key: Buffer | null;
    let value: Buffer | null;
    const interrupted = this.hooks.timer.enter(this);
    try {
      key = this.sink.keySerde.serialize(record.key, this.topic);
      value = this.sink.valueSerde.serialize(record.value, this.topic);
    } catch (error) {
      this.hooks.timer.leave(interrupted);
      const wrapped =
        error instanceof SerializationError
          ? error
          : new SerializationError(
              `sink '${this.sink.name}' could not serialise a record for '${this.topic}': ${(error as Error).message}`,
              { cause: error },
            );
      this.hooks.deadLetter(record, wrapped, this.sink.name);
      return;
    }
    this.hooks.timer.leave(interrupted);
    this.hooks.emit({
      topic: this.topic,
      partition: this.hooks.partitionFor(this.topic, key),
      key,
      value,
      timestamp: record.timestamp,
      headers: record.headers,
    });
  }

  parentEnded(): void {
    this.openParents -= 1;
    if (this.openParents === 0) this.onEnd();
  }
}

/** A source node: fans the decoded records of its topics out to its children. */
export class SourceRunner extends NodeCounts implements Downstream {
  constructor(
    name: string,
    private readonly children: readonly Downstream[],
  ) {
    super(name);
  }

  push(record: AnyRecord): void {
    this.recordsOut += 1;
    for (const child of this.children) child.push(record);
  }

  parentEnded(): void {
    for (const child of this.children) child.parentEnded();
  }
}

/** The source bytes behind a record, for the dead-letter topic. */
export function originOf(
  record: AnyRecord | undefined,
  fallback: SourceRecord | undefined,
): SourceRecord | undefined {
  return record?.origin ?? fallback;
}

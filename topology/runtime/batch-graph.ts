import { type OperatorFunction, Subject, type Subscription } from 'rxjs';
import { ProcessingError, SerializationError, TopologyError } from '../errors.js';
import type { SinkNode } from '../plan/graph.js';
import { RecordFailure, type RecordProcessor } from '../processor.js';
import { isPromise } from '../promises.js';
import type { OutgoingRecord, SourceRecord, StreamRecord } from '../record.js';

type AnyRecord = StreamRecord<unknown, unknown>;

/**
 * What a record a repartition in place keeps would have crossed the topic
 * as; no value bytes (undefined) when the repartition shares values.
 */
export type KeptBytes = Omit<OutgoingRecord, 'value'> & { readonly value: Buffer | null | undefined };

/** What a node runner needs from the task that runs it. */
export interface BatchHooks {
  /** Sends the record's source bytes to the dead-letter topic, naming the node and error. */
  deadLetter(record: AnyRecord | undefined, error: unknown, node: string): void;
  emit(record: OutgoingRecord): void;
  partitionFor(topic: string, key: Buffer | null): number;
  /**
   * A repartition in place keeps `record` (serialised as `bytes`) for its
   * source node `source` in this task; a promise while it is processed there.
   */
  keepInPlace(source: string, record: AnyRecord, bytes: KeptBytes): void | Promise<void>;
  /**
   * Charges the batch's synchronous work to the nodes doing it
   * (`veroai_node_process_seconds`). A new one for each batch: read it at every use.
   */
  timer: NodeTimer;
  /**
   * Fails the batch, and with it the task: for infrastructure errors (a store
   * failed) and failures that name no record. Nothing of the batch is committed.
   */
  failTask(error: unknown): void;
  /** True for an error that is not the record's fault (see failTask). */
  isInfrastructureError(error: unknown): boolean;
}

/**
 * A node of the per-batch graph: receives records, and learns when its
 * parents are done. `push` returns a promise only when the record (or what it
 * caused downstream) is still being processed: the caller waits for it before
 * the next record, so a partition's records go through the graph one at a time.
 */
export interface Downstream {
  push(record: AnyRecord): void | Promise<void>;
  parentEnded(): void | Promise<void>;
}

/** Pushes a record to each child, one after another; a promise only if a child made one. */
function pushToAll(children: readonly Downstream[], record: AnyRecord): void | Promise<void> {
  if (children.length === 1) return children[0]!.push(record);
  for (let i = 0; i < children.length; i++) {
    const pending = children[i]!.push(record);
    if (isPromise(pending)) return pending.then(() => pushToAll(children.slice(i + 1), record));
  }
}

/** Tells each child its parent ended, one after another. */
function endAll(children: readonly Downstream[]): void | Promise<void> {
  for (let i = 0; i < children.length; i++) {
    const pending = children[i]!.parentEnded();
    if (isPromise(pending)) return pending.then(() => endAll(children.slice(i + 1)));
  }
}

/** Records into and out of a node during one batch, reported to metrics once at the end of the batch. */
export class NodeCounts {
  recordsIn = 0;
  recordsOut = 0;
  /** A repartition in place: records kept in the task instead of crossing its topic (they count in `recordsIn` only). */
  recordsKept = 0;
  /** Milliseconds the node's own code ran in this batch; undefined when the batch was not timed (see NodeTimer). */
  busyMs: number | undefined;
  constructor(readonly node: string) {}

  /** Counts from zero, for a new batch. */
  protected resetCounts(): void {
    this.recordsIn = 0;
    this.recordsOut = 0;
    this.recordsKept = 0;
    this.busyMs = undefined;
  }

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
 * Runs one processor node's RxJS operator, batch after batch: for each batch
 * (`reset`) the operator is applied afresh to a Subject fed record by record,
 * so per-subscription state lives for the batch. If the operator errors, the record being pushed (or, for an async
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
  /** Output still being processed downstream: later output and the end of the batch wait for it. */
  private downstream: Promise<void> | undefined;
  private inputEnded = false;
  private finished = false;

  private openParents = 0;

  constructor(
    private readonly name: string,
    private readonly operator: OperatorFunction<AnyRecord, AnyRecord>,
    private readonly children: readonly Downstream[],
    private readonly hooks: BatchHooks,
  ) {
    super(name);
  }

  /** A new batch: the operator subscribed afresh, its parents open, counts from zero. */
  reset(parents: number): void {
    this.subscription?.unsubscribe();
    this.resetCounts();
    this.openParents = parents;
    this.current = undefined;
    this.pushed = [];
    this.downstream = undefined;
    this.inputEnded = false;
    this.finished = false;
    this.start();
  }

  private start(): void {
    this.input = new Subject<AnyRecord>();
    this.subscription = this.operator(this.input).subscribe({
      next: (record) => this.forward(record),
      error: (error: unknown) => this.fail(error),
      complete: () => this.finish(),
    });
    if (this.inputEnded) this.input.complete();
  }

  /** Emits downstream: the operator's output, and `context.forward()`. Output reaches children in order. */
  forward(record: AnyRecord): void {
    this.recordsOut += 1;
    if (this.downstream !== undefined) {
      this.track(this.downstream.then(() => pushToAll(this.children, record)));
      return;
    }
    const pending = pushToAll(this.children, record);
    if (isPromise(pending)) this.track(pending);
  }

  private track(pending: Promise<void>): void {
    const tracked: Promise<void> = pending.then(() => {
      if (this.downstream === tracked) this.downstream = undefined;
    });
    this.downstream = tracked;
  }

  /** What the graph's caller must wait for before its next record: output of this one still in progress. */
  private inProgress(): void | Promise<void> {
    return this.downstream;
  }

  /** Resolves once what this node forwarded (e.g. from a punctuator) is processed downstream. */
  settled(): void | Promise<void> {
    return this.downstream;
  }

  push(record: AnyRecord): void | Promise<void> {
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
    return this.inProgress();
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
    const cause0 = error instanceof RecordFailure ? error.cause : error;
    if (this.hooks.isInfrastructureError(cause0)) {
      this.hooks.failTask(cause0);
      return;
    }
    if (!(error instanceof RecordFailure) && this.current === undefined) {
      // failed after an await, naming no record: which of the records in flight failed is unknown, and
      // dead-lettering a guess would lose the others; fail the batch so that nothing is committed
      this.hooks.failTask(
        new TopologyError(
          `processor '${this.name}' failed asynchronously without naming its record: ${(error as Error)?.message ?? String(error)}`,
          'implement it as a RecordProcessor (process(record) may be async), or throw RecordFailure(record, error)',
        ),
      );
      return;
    }
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
    const end = () => endAll(this.children);
    if (this.downstream === undefined) void end();
    else void this.downstream.then(end);
  }

  close(): void {
    this.subscription?.unsubscribe();
  }
}

/**
 * Runs one node on the per-record contract (RecordProcessor): `process` is
 * called for each record and waited for, with everything it forwarded, before
 * the next; a synchronous processor makes no promise. A failure names its
 * record: the record goes to the dead-letter topic, or, for an infrastructure
 * error (see FailureRouter), the task fails.
 */
export class RecordRunner extends NodeCounts implements Downstream {
  /** Output forwarded by the record (or batch end) in progress that is still being processed downstream. */
  private forwarded: Array<Promise<void>> = [];
  /** The record in progress, while its processing is asynchronous: a record pushed meanwhile waits for it. */
  private tail: Promise<void> | undefined;
  private openParents = 0;

  constructor(
    private readonly name: string,
    private readonly processor: RecordProcessor<unknown, unknown>,
    private readonly children: readonly Downstream[],
    private readonly hooks: BatchHooks,
  ) {
    super(name);
  }

  /** A new batch: parents open again, counts from zero, nothing in progress. */
  reset(parents: number): void {
    this.resetCounts();
    this.openParents = parents;
    this.forwarded = [];
    this.tail = undefined;
  }

  forward(record: AnyRecord): void {
    this.recordsOut += 1;
    const pending = pushToAll(this.children, record);
    if (isPromise(pending)) this.forwarded.push(pending);
  }

  push(record: AnyRecord): void | Promise<void> {
    this.recordsIn += 1;
    if (this.tail !== undefined) return this.queue(() => this.run(record));
    const pending = this.run(record);
    if (isPromise(pending)) return this.queue(() => pending);
  }

  parentEnded(): void | Promise<void> {
    this.openParents -= 1;
    if (this.openParents > 0) return;
    if (this.tail !== undefined) return this.queue(() => this.endBatch());
    return this.endBatch();
  }

  private queue(step: () => void | Promise<void>): Promise<void> {
    const run = (this.tail ?? Promise.resolve()).then(step);
    const tail = run.then(() => {
      if (this.tail === tail) this.tail = undefined;
    });
    this.tail = tail;
    return tail;
  }

  private run(record: AnyRecord): void | Promise<void> {
    const interrupted = this.hooks.timer.enter(this);
    let result: void | Promise<void>;
    try {
      result = this.processor.process(record);
    } catch (error) {
      this.hooks.timer.leave(interrupted);
      this.failed(record, error);
      return this.settleForwarded();
    }
    this.hooks.timer.leave(interrupted);
    if (isPromise(result))
      return result.then(
        () => this.settleForwarded(),
        (error: unknown) => {
          this.failed(record, error);
          return this.settleForwarded();
        },
      );
    return this.settleForwarded();
  }

  private endBatch(): void | Promise<void> {
    const end = () => endAll(this.children);
    let result: void | Promise<void>;
    try {
      result = this.processor.onBatchEnd?.();
    } catch (error) {
      result = undefined;
      this.failed(undefined, error);
    }
    const afterFlush = (): void | Promise<void> => {
      const pending = this.settleForwarded();
      return isPromise(pending) ? pending.then(end) : end();
    };
    if (isPromise(result))
      return result.then(afterFlush, (error: unknown) => {
        this.failed(undefined, error);
        return afterFlush();
      });
    return afterFlush();
  }

  /** Resolves once what this node forwarded (e.g. from a punctuator) is processed downstream. */
  settled(): void | Promise<void> {
    return this.settleForwarded();
  }

  /** Waits for what was forwarded (a promise only if something downstream is still working). */
  private settleForwarded(): void | Promise<void> {
    if (this.forwarded.length === 0) return;
    const pending = this.forwarded;
    this.forwarded = [];
    return Promise.all(pending).then(() => this.settleForwarded());
  }

  private failed(record: AnyRecord | undefined, error: unknown): void {
    const cause = error instanceof RecordFailure ? error.cause : error;
    if (
      this.hooks.isInfrastructureError(cause) ||
      (record === undefined && !(error instanceof RecordFailure))
    ) {
      // a store failed, or a batch-end step failed naming no record: the batch fails, nothing is lost
      this.hooks.failTask(cause);
      return;
    }
    const failed = error instanceof RecordFailure ? error.record : record;
    this.hooks.deadLetter(failed, new ProcessingError(this.name, cause), this.name);
  }
}

/**
 * Serialises records for a sink topic and hands them to the task's output.
 * A repartition in place (`taskPartition` given, see SinkNode.inPlaceSource)
 * keeps in the task the records the partitioner puts in the task's own partition.
 */
export class SinkRunner extends NodeCounts implements Downstream {
  private openParents = 0;

  constructor(
    private readonly sink: SinkNode,
    private readonly topic: string,
    private readonly hooks: BatchHooks,
    /** Every parent ended; for a repartition in place, also ends the source it keeps records for. */
    private readonly onEnd: () => void | Promise<void>,
    private readonly taskPartition?: number,
  ) {
    super(sink.name);
  }

  /** A new batch: parents open again, counts from zero. */
  reset(parents: number): void {
    this.resetCounts();
    this.openParents = parents;
  }

  push(record: AnyRecord): void | Promise<void> {
    this.recordsIn += 1;
    let key: Buffer | null;
    let partition: number;
    let value: Buffer | null | undefined;
    const interrupted = this.hooks.timer.enter(this);
    try {
      key = this.sink.keySerde.serialize(record.key, this.topic);
      partition = this.hooks.partitionFor(this.topic, key);
      // a kept record whose repartition shares values goes on as it is: its value needs no bytes
      value =
        partition === this.taskPartition && this.sink.shareInPlaceValues === true
          ? undefined
          : this.sink.valueSerde.serialize(record.value, this.topic);
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
    const { timestamp, headers } = record;
    if (partition === this.taskPartition) {
      this.recordsKept += 1;
      return this.hooks.keepInPlace(this.sink.inPlaceSource!, record, {
        topic: this.topic,
        partition,
        key,
        value,
        timestamp,
        headers,
      });
    }
    this.hooks.emit({ topic: this.topic, partition, key, value: value!, timestamp, headers });
  }

  parentEnded(): void | Promise<void> {
    this.openParents -= 1;
    if (this.openParents === 0) return this.onEnd();
  }
}

/**
 * A source node: fans the decoded records of its topics out to its children.
 * Its batch ends when the task ends it and, for the source of a repartition
 * in place, when the sinks that keep records for it have ended too.
 */
export class SourceRunner extends NodeCounts implements Downstream {
  private openParents = 0;

  constructor(
    name: string,
    private readonly children: readonly Downstream[],
  ) {
    super(name);
  }

  /** A new batch: counts from zero; `inPlaceSinks` repartitions in place keep records for this source. */
  reset(inPlaceSinks: number): void {
    this.resetCounts();
    this.openParents = inPlaceSinks + 1;
  }

  push(record: AnyRecord): void | Promise<void> {
    this.recordsOut += 1;
    return pushToAll(this.children, record);
  }

  parentEnded(): void | Promise<void> {
    this.openParents -= 1;
    if (this.openParents > 0) return;
    return endAll(this.children);
  }
}

/** The source bytes behind a record, for the dead-letter topic. */
export function originOf(
  record: AnyRecord | undefined,
  fallback: SourceRecord | undefined,
): SourceRecord | undefined {
  return record?.origin ?? fallback;
}

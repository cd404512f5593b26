import type { OperatorFunction } from 'rxjs';
import type { StreamRecord } from './record.js';
import type { StateStore } from './state/store.js';

/**
 * What a processor sees of its task. One context per (processor node, task):
 * a processor supplier is called once per task, so closure state in the
 * supplier is per partition, never shared.
 */
export interface ProcessorContext {
  readonly applicationId: string;
  /** `<subTopology>_<partition>`, as Kafka Streams names tasks. */
  readonly taskId: string;
  readonly partition: number;
  /** The processor node's name in the topology. */
  readonly nodeName: string;
  /**
   * The task's stream time: the highest event time among the records it has
   * processed, up to and including the one being processed now (-1 before
   * the first). Persisted with every commit and restored on assignment, so it
   * never goes back across restarts. Windows, suppress, retention, lateness
   * and stream-time punctuators all read this one clock.
   */
  streamTime(): number;
  /** A state store connected to this processor (named in `process(..., { stores })`). */
  getStateStore<S extends StateStore = StateStore>(name: string): S;
  /**
   * Emits a record downstream outside the operator's own output, e.g. from a
   * punctuator. It is delivered with the batch being processed.
   */
  forward<K, V>(record: StreamRecord<K, V>): void;
  /**
   * Reports a record that came too late for its window: its source bytes go to
   * `<applicationId>-late` with the reason, and `veroai_late_records_total` counts it.
   */
  late(record: StreamRecord<unknown, unknown>, reason: string): void;
  /**
   * Sends a record to the dead-letter topic (its source bytes, this node,
   * the error's code and reason) and goes on with the next. Throwing from
   * `process` does this for the record being processed; this is for a
   * record found bad later, e.g. one value of a batch an external sink
   * refused at the end of the batch.
   */
  deadLetter(record: StreamRecord<unknown, unknown>, error: unknown): void;
  /**
   * Calls `callback` every `intervalMs` of stream time (as records advance it)
   * or of wall-clock time (even when no record arrives), with that time. It
   * runs at the start of a batch, before the batch's records (a wall-clock
   * punctuation gets a batch of its own), may be async, may `forward` records
   * and use stores; its output leaves with the batch. A stream-time
   * punctuation therefore fires at the first batch after stream time passed
   * its deadline (Kafka Streams checks after every record).
   * @example context.schedule(60_000, 'wall-clock', async (now) => expireIdleSessions(now))
   */
  schedule(
    intervalMs: number,
    type: PunctuationType,
    callback: (timestamp: number) => void | Promise<void>,
  ): Cancellable;
}

export type PunctuationType = 'stream-time' | 'wall-clock';

export interface Cancellable {
  cancel(): void;
}

/**
 * The per-record processor contract, as Kafka Streams' `Processor`: the
 * runtime calls `process` once per record, in partition order, and waits for
 * it (and for everything it forwarded) before the next record, so state and
 * stream time are exactly those of this record. Output goes through
 * `context.forward`. `process` may return a promise (a store read that went
 * to disk); when it does not, no promise is made for the record.
 *
 * A `process` that throws names its record: the runtime sends that record to
 * the dead-letter topic and goes on with the next. A `StoreError` (the store
 * itself failed) fails the task instead, which is then rebuilt from its
 * changelogs: the record was fine, the state may not be.
 */
export interface RecordProcessor<KIn, VIn> {
  process(record: StreamRecord<KIn, VIn>): void | Promise<void>;
  /**
   * Before a batch, the records `process` is about to get, so that the state
   * they need is read ahead, many keys at once (`store.prefetch`): a
   * persistent store's read otherwise waits for the disk, one record after
   * another. Called only for a processor fed straight by a source (a topic or
   * a repartition topic, with nothing between), whose records are known
   * before they arrive. It is a hint: if it fails, the failure is logged and
   * the batch runs with reads from disk.
   * @example readAhead(records) { return ids.prefetch?.(records.map((r) => r.value.eventId)); }
   */
  readAhead?(records: readonly StreamRecord<KIn, VIn>[]): void | Promise<void>;
  /** After the batch's last record: flush what was buffered for the batch (it may forward). */
  onBatchEnd?(): void | Promise<void>;
  /** When the task closes. */
  close?(): void | Promise<void>;
}

/**
 * A custom processor: given its context (once per task, its `init`), returns
 * either a `RecordProcessor` (per-record contract, the engine's own stateful
 * steps use it) or a plain RxJS operator over the records of one batch, for
 * stateless composition. The operator sees each batch as a finite stream that
 * completes when the batch ends; state that must outlive a batch belongs in a
 * state store (or the supplier's closure, which lives as long as the task).
 * An operator that emits asynchronously (`concatMap(async …)`) runs behind
 * the task's stream time; stateful steps should be RecordProcessors.
 */
export type ProcessorSupplier<KIn, VIn, KOut, VOut> = (
  context: ProcessorContext,
) => OperatorFunction<StreamRecord<KIn, VIn>, StreamRecord<KOut, VOut>> | RecordProcessor<KIn, VIn>;

/**
 * Thrown by an asynchronous operator to name the record that failed, so the
 * runtime dead-letters that record (not the last one pushed) and re-delivers
 * the records queued behind it.
 *
 * @example
 * concatMap(async (r) => {
 *   try { return await enrich(r); } catch (e) { throw new RecordFailure(r, e); }
 * })
 */
export class RecordFailure extends Error {
  constructor(
    readonly record: StreamRecord<unknown, unknown>,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'RecordFailure';
  }
}

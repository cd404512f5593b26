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
  /** The highest event time this task has seen (-1 before the first record). */
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
 * A custom processor: given its context, returns a plain RxJS operator over the
 * records of one batch. The operator sees each batch as a finite stream that
 * completes when the batch ends; state that must outlive a batch belongs in a
 * state store (or the supplier's closure, which lives as long as the task).
 */
export type ProcessorSupplier<KIn, VIn, KOut, VOut> = (
  context: ProcessorContext,
) => OperatorFunction<StreamRecord<KIn, VIn>, StreamRecord<KOut, VOut>>;

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

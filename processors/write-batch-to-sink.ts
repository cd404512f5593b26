import { setTimeout as sleep } from 'node:timers/promises';
import { catalogueEntry, type ProcessorSupplier, type StreamRecord, VeroaiError } from '../topology/index.js';

/** How long a sink may stay unavailable before the job gives up, by default (SINK_MAX_OUTAGE_MS). */
export const DEFAULT_SINK_MAX_OUTAGE_MS = 30_000;

/** A failed write to an external sink, reported before the next attempt. */
export interface SinkFailure {
  readonly sink: string;
  /** Failed attempts in a row, 1 for the first. */
  readonly attempt: number;
  /**
   * What failed: the attempt's error, or once `exhausted`, a
   * `VEROAI_ERR_SINK_OUTAGE` error saying how long the sink has been down
   * (its cause is the attempt's error).
   */
  readonly error: unknown;
  /** How long the sink has been failing: since the first failure of this outage. */
  readonly outageMs: number;
  /** When the next attempt starts. */
  readonly retryInMs: number;
  /**
   * True once the outage has lasted `maxOutageMs`: the sink is down, not
   * blipping. The application should then stop without committing (e.g. exit
   * non-zero); a restart reprocesses the batch, nothing is lost. Attempts go
   * on (a stop still finishes the batch if the sink comes back) until the
   * write succeeds or `signal` aborts it.
   */
  readonly exhausted: boolean;
}

export interface SinkRetryOptions {
  /** Wait after the first failure; doubles per failure up to `maxBackoffMs`. Default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Default 10 000 ms. */
  readonly maxBackoffMs?: number;
  /**
   * How long a sink may keep failing, from its first failed write, before the
   * failure is reported `exhausted` (the CLI's SINK_MAX_OUTAGE_MS). A duration,
   * not a count of attempts: an attempt may fail at once (connection refused)
   * or after a command timeout (a hung server). Waits are cut so that an
   * attempt is made when the budget ends. Default DEFAULT_SINK_MAX_OUTAGE_MS.
   */
  readonly maxOutageMs?: number;
  /**
   * Aborts the retries (e.g. a stop deadline): no attempt starts after it,
   * and a backoff wait ends at once. The batch being written is then left
   * unfinished, neither committed nor dead-lettered: the application is
   * stopping, and the next start reprocesses it.
   */
  readonly signal?: AbortSignal;
  /** Called on every failed attempt, e.g. to log it and, once exhausted, stop the application. */
  readonly onFailure?: (failure: SinkFailure) => void;
}

/**
 * A processor that writes each batch's values to an external sink in one call
 * and forwards the batch's records only once the write has succeeded, so the
 * batch (and its offsets) completes only after the sink holds its output.
 * A RecordProcessor: it collects the batch's records and writes them at the
 * end of the batch (`onBatchEnd`). Stateless; keeps keys and values.
 *
 * What a failure means is the error's catalogue entry (topology/error-catalogue.ts):
 * - retriable (`VEROAI_ERR_SINK_UNAVAILABLE`: Redis down, hung, loading), and
 *   any error without a catalogue code: retried with exponential backoff, see
 *   `retrySinkWrite`. A sink outage never sends good records to the
 *   dead-letter topic; nothing is committed while the write is pending (the
 *   partition waits; backpressure pauses it).
 * - not retriable (`VEROAI_ERR_SINK_DATA`: Redis refused the value, e.g.
 *   WRONGTYPE; `VEROAI_ERR_FEATURE_INVALID`: a value that cannot be encoded):
 *   not retried. The refused record goes to the dead-letter topic with that
 *   code and reason (`context.deadLetter`), the records before it are
 *   forwarded once written, the ones after it are written again. The sink
 *   names the refused value by its position (`SinkDataError.valueIndex`);
 *   when it does not, the batch is written one value at a time to find it.
 *
 * The sink must be idempotent: a batch, or part of it, may be written twice.
 *
 * @example stream.process(writeBatchToSink('session-history', (sessions) => history.append(sessions)), { keyPreserving: true })
 */
export function writeBatchToSink<K, V>(
  sink: string,
  write: (values: V[]) => Promise<void>,
  retry: SinkRetryOptions = {},
): ProcessorSupplier<K, V, K, V> {
  const writeRecords = (records: readonly StreamRecord<K, V>[]) =>
    retrySinkWrite(sink, () => write(records.map((r) => r.value)), retry);
  return (context) => {
    let batch: StreamRecord<K, V>[] = [];
    return {
      process(record) {
        batch.push(record);
      },
      async onBatchEnd() {
        let pending = batch;
        batch = [];
        while (pending.length > 0) {
          const outcome = await writeUntilRefused(pending, writeRecords);
          // not the records' fault: the batch fails uncommitted (its catalogue entry fails the task)
          if (outcome.aborted !== undefined) throw outcome.aborted;
          for (const record of outcome.written) context.forward(record);
          if (outcome.refused === undefined) return;
          const { record, error } = outcome.refused;
          context.deadLetter(record, error);
          // the ones after it are written again
          pending = pending.slice(pending.indexOf(record) + 1);
        }
      },
    };
  };
}

interface WriteOutcome<R> {
  /** Records the sink holds, in order: forwarded. */
  readonly written: readonly R[];
  /** The first record the sink refused: dead-lettered; the records after it are re-delivered. */
  readonly refused?: { readonly record: R; readonly error: unknown };
  /** The retries were aborted (the error saying so): the batch fails, uncommitted. */
  readonly aborted?: unknown;
}

/** Writes records until the sink refuses one: what was written, and the refused record. */
async function writeUntilRefused<R>(
  records: readonly R[],
  write: (records: readonly R[]) => Promise<void>,
): Promise<WriteOutcome<R>> {
  if (records.length === 0) return { written: [] };
  try {
    await write(records);
    return { written: records };
  } catch (error) {
    if (isAbort(error)) return { written: [], aborted: error };
    const index = refusedIndex(error, records.length);
    if (index === undefined) return writeOneByOne(records, write, error);
    // the records before it may not have been written (a sink checks a batch before sending it): write them
    const before = await writeUntilRefused(records.slice(0, index), write);
    if (before.aborted !== undefined || before.refused !== undefined) return before;
    return { written: before.written, refused: { record: records[index]!, error } };
  }
}

/** The sink refused the batch without saying which value: find the first refused one alone. */
async function writeOneByOne<R>(
  records: readonly R[],
  write: (records: readonly R[]) => Promise<void>,
  batchError: unknown,
): Promise<WriteOutcome<R>> {
  if (records.length === 1) return { written: [], refused: { record: records[0]!, error: batchError } };
  for (let i = 0; i < records.length; i++) {
    try {
      await write([records[i]!]);
    } catch (error) {
      if (isAbort(error)) return { written: [], aborted: error };
      return { written: records.slice(0, i), refused: { record: records[i]!, error } };
    }
  }
  // each value went through alone: whatever the sink refused in the batch, it does not refuse now
  return { written: records };
}

function refusedIndex(error: unknown, length: number): number | undefined {
  const index = (error as { valueIndex?: unknown } | null)?.valueIndex;
  return typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < length
    ? index
    : undefined;
}

function isAbort(error: unknown): boolean {
  return error instanceof VeroaiError && error.code === 'VEROAI_ERR_SINK_ABORTED';
}

/**
 * A catalogue error that says retrying cannot help (the sink refused the
 * value). Errors without a catalogue code are taken for outages: retried,
 * never dead-lettered for a failure nobody classified.
 */
function refusesTheValue(error: unknown): boolean {
  return error instanceof VeroaiError && catalogueEntry(error.code) !== undefined && !error.retriable;
}

/**
 * Runs one sink write until it succeeds: a failure the catalogue calls
 * retriable (or an unclassified one) is retried with exponential backoff and
 * reported through `onFailure`, `exhausted` once the outage has lasted
 * `maxOutageMs`; a failure that refuses the value is rethrown at once.
 * Rejects with `VEROAI_ERR_SINK_ABORTED` when `signal` aborts (before an
 * attempt, or during a backoff wait).
 * @example await retrySinkWrite('feature-store', () => store.write(batch), { maxOutageMs: 30_000, signal })
 */
export async function retrySinkWrite(
  sink: string,
  attempt: () => Promise<void>,
  options: SinkRetryOptions = {},
): Promise<void> {
  const initial = options.initialBackoffMs ?? 100;
  const max = options.maxBackoffMs ?? 10_000;
  const maxOutageMs = options.maxOutageMs ?? DEFAULT_SINK_MAX_OUTAGE_MS;
  const { signal } = options;
  let firstFailureAt: number | undefined;
  for (let failures = 1; ; failures++) {
    if (signal?.aborted) throw abortedWrite(sink, signal);
    try {
      await attempt();
      return;
    } catch (error) {
      if (refusesTheValue(error)) throw error;
      const now = performance.now();
      firstFailureAt ??= now;
      const outageMs = Math.round(now - firstFailureAt);
      const exhausted = outageMs >= maxOutageMs;
      const backoff = Math.min(max, initial * 2 ** (failures - 1));
      const retryInMs = exhausted ? backoff : Math.min(backoff, maxOutageMs - outageMs);
      try {
        options.onFailure?.({
          sink,
          attempt: failures,
          error: exhausted ? outageError(sink, outageMs, maxOutageMs, error) : error,
          outageMs,
          retryInMs,
          exhausted,
        });
      } catch {
        // a failing reporter must not turn a sink outage into dead letters
      }
      try {
        await sleep(retryInMs, undefined, signal === undefined ? undefined : { signal });
      } catch {
        throw abortedWrite(sink, signal);
      }
    }
  }
}

function outageError(sink: string, outageMs: number, maxOutageMs: number, cause: unknown): VeroaiError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new VeroaiError(
    'VEROAI_ERR_SINK_OUTAGE',
    `sink '${sink}' has been failing for ${(outageMs / 1000).toFixed(1)} s, longer than SINK_MAX_OUTAGE_MS (${maxOutageMs} ms): ${reason}`,
    { cause },
  );
}

function abortedWrite(sink: string, signal: AbortSignal | undefined): VeroaiError {
  return new VeroaiError(
    'VEROAI_ERR_SINK_ABORTED',
    `sink '${sink}': write abandoned, the application is stopping`,
    { cause: signal?.reason },
  );
}

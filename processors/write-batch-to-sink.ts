import { setTimeout as sleep } from 'node:timers/promises';
import { concatMap, toArray } from 'rxjs';
import type { ProcessorSupplier } from '../topology/index.js';

/** A failed write to an external sink, reported before the next attempt. */
export interface SinkFailure {
  readonly sink: string;
  /** Failed attempts in a row, 1 for the first. */
  readonly attempt: number;
  readonly error: unknown;
  /** When the next attempt starts. */
  readonly retryInMs: number;
  /**
   * True from the `alarmAfterAttempts`-th failure in a row: the sink is down,
   * not blipping. The application should then stop without committing (e.g.
   * exit non-zero); a restart reprocesses the batch, nothing is lost.
   */
  readonly exhausted: boolean;
}

export interface SinkRetryOptions {
  /** Wait after the first failure; doubles per failure up to `maxBackoffMs`. Default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Default 10 000 ms. */
  readonly maxBackoffMs?: number;
  /**
   * Failures in a row before `exhausted` is reported. Default 8: about 13 s of
   * backoff, inside Kafka's default 30 s session timeout (a partition stuck
   * longer than that is handed to another instance, which retries the batch).
   */
  readonly alarmAfterAttempts?: number;
  /** Called on every failed attempt, e.g. to log it and, once exhausted, stop the application. */
  readonly onFailure?: (failure: SinkFailure) => void;
}

/**
 * A processor that writes each batch's values to an external sink in one call
 * and forwards the batch's records only once the write has succeeded, so the
 * batch (and its offsets) completes only after the sink holds its output.
 * Stateless; keeps keys and values.
 *
 * A failed write is retried with exponential backoff, for as long as it takes:
 * a sink outage must never send good records to the dead-letter topic, and
 * nothing is committed while the write is pending (the partition waits;
 * backpressure pauses it). Failures are reported through `onFailure`, which
 * decides when to give up on the process (see `SinkFailure.exhausted`).
 *
 * @example stream.process(writeBatchToSink('session-history', (sessions) => history.append(sessions)), { keyPreserving: true })
 */
export function writeBatchToSink<K, V>(
  sink: string,
  write: (values: V[]) => Promise<void>,
  retry: SinkRetryOptions = {},
): ProcessorSupplier<K, V, K, V> {
  return () => (source) =>
    source.pipe(
      toArray(),
      concatMap(async (records) => {
        if (records.length > 0) await withRetry(sink, () => write(records.map((r) => r.value)), retry);
        return records;
      }),
      concatMap((records) => records),
    );
}

async function withRetry(
  sink: string,
  attempt: () => Promise<void>,
  options: SinkRetryOptions,
): Promise<void> {
  const initial = options.initialBackoffMs ?? 100;
  const max = options.maxBackoffMs ?? 10_000;
  const alarmAfter = options.alarmAfterAttempts ?? 8;
  for (let failures = 1; ; failures++) {
    try {
      await attempt();
      return;
    } catch (error) {
      const retryInMs = Math.min(max, initial * 2 ** (failures - 1));
      try {
        options.onFailure?.({ sink, attempt: failures, error, retryInMs, exhausted: failures >= alarmAfter });
      } catch {
        // a failing reporter must not turn a sink outage into dead letters
      }
      await sleep(retryInMs);
    }
  }
}

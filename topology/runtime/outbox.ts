import { setTimeout as sleep } from 'node:timers/promises';
import type { OutgoingRecord } from '../record.js';
import type { TransportProducer } from '../transports/transport.js';

interface Pending {
  readonly records: readonly OutgoingRecord[];
  readonly onAck: () => void;
}

/**
 * The single way out of the engine. Output queued while requests are in
 * flight is coalesced into the next request; up to `maxInFlight` requests are
 * sent at once and acknowledged strictly in order, so a batch counts as
 * written only when every batch before it is. (The kafka transport keeps
 * per-partition order across concurrent requests with an idempotent producer.)
 *
 * A failed send is retried with a new producer when a `replaceProducer` is
 * given (at-least-once: an idempotent producer whose request timed out can
 * only be replaced, and the resend may repeat records): the failed request
 * and every unacknowledged one after it are sent again, in order. After
 * `maxRetries` failures in a row, or without a replacement, the failure is
 * fatal: nothing after it is acknowledged, so no offset after it is committed.
 */
export class Outbox {
  private queue: Pending[] = [];
  /** Requests in flight, oldest first. */
  private readonly inFlight: Array<{
    done: Promise<void>;
    batch: Pending[];
    records: readonly OutgoingRecord[];
    settled: boolean;
    failed: boolean;
  }> = [];
  private failure: unknown;
  private idleWaiters: Array<() => void> = [];
  /** Set while a failed send is being recovered: no request starts meanwhile. */
  private recovering: Promise<void> | undefined;
  private failuresInARow = 0;

  constructor(
    private producer: TransportProducer,
    private readonly onSent: (records: readonly OutgoingRecord[]) => void,
    private readonly onFailure: (error: unknown) => void,
    private readonly maxInFlight = 1,
    private readonly recovery: OutboxRecovery = {},
  ) {}

  /** Queues a batch's output; `onAck` runs once it, and everything queued before it, is in the log. */
  enqueue(records: readonly OutgoingRecord[], onAck: () => void): void {
    if (this.failure !== undefined) return;
    this.queue.push({ records, onAck });
    this.startRequests();
  }

  /** Resolves when everything queued so far is acknowledged (or the outbox failed). */
  async flush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private startRequests(): void {
    while (
      this.queue.length > 0 &&
      this.inFlight.length < this.maxInFlight &&
      this.failure === undefined &&
      this.recovering === undefined
    ) {
      const batch = this.queue;
      this.queue = [];
      const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((p) => p.records);
      const request = { batch, records, settled: false, failed: false, done: Promise.resolve() };
      request.done = (records.length > 0 ? this.producer.send(records) : Promise.resolve()).then(
        () => {
          request.settled = true;
          this.failuresInARow = 0;
          this.acknowledgeInOrder();
        },
        (error: unknown) => {
          request.settled = true;
          request.failed = true;
          this.sendFailed(error);
        },
      );
      this.inFlight.push(request);
    }
    this.notifyIfIdle();
  }

  private acknowledgeInOrder(): void {
    this.acknowledgeLeadingSuccesses();
    this.startRequests();
  }

  /** Replaces the producer and resends, in order, everything from the first unacknowledged request. */
  private sendFailed(error: unknown): void {
    if (this.failure !== undefined || this.recovering !== undefined) return;
    this.failuresInARow += 1;
    const { replaceProducer, maxRetries = 5, backoffMs = 500, onRetry } = this.recovery;
    if (replaceProducer === undefined || this.failuresInARow > maxRetries) {
      this.fail(error);
      return;
    }
    onRetry?.(error, this.failuresInARow);
    this.recovering = (async () => {
      // every request settles first, so nothing sent by the old producer lands after the resend
      await Promise.all(this.inFlight.map((r) => r.done));
      this.acknowledgeLeadingSuccesses();
      const unacknowledged = this.inFlight.flatMap((r) => r.batch);
      this.inFlight.length = 0;
      this.queue = [...unacknowledged, ...this.queue];
      await this.producer.close().catch(() => undefined);
      await sleep(backoffMs * 2 ** (this.failuresInARow - 1));
      this.producer = await replaceProducer();
    })().then(
      () => {
        this.recovering = undefined;
        this.startRequests();
      },
      (replaceError: unknown) => {
        this.recovering = undefined;
        this.fail(replaceError);
      },
    );
  }

  private acknowledgeLeadingSuccesses(): void {
    while (this.inFlight[0]?.settled && !this.inFlight[0].failed) {
      const request = this.inFlight.shift()!;
      this.onSent(request.records);
      for (const p of request.batch) p.onAck();
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.queue = [];
    this.inFlight.length = 0;
    this.onFailure(error);
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.queue.length > 0 || this.inFlight.length > 0 || this.recovering !== undefined) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** How the outbox recovers from a failed send (at-least-once only). */
export interface OutboxRecovery {
  /** A fresh producer; without it a failed send is fatal. */
  readonly replaceProducer?: () => Promise<TransportProducer>;
  /** Failed sends in a row before the failure is fatal. Default 5. */
  readonly maxRetries?: number;
  /** Wait before the first resend, doubled per failure in a row. Default 500 ms. */
  readonly backoffMs?: number;
  /** Told of each failure that will be retried. */
  readonly onRetry?: (error: unknown, failuresInARow: number) => void;
}

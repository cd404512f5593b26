import { setTimeout as sleep } from 'node:timers/promises';
import type { OutgoingRecord } from '../record.js';
import type { TransportProducer } from '../transports/transport.js';

interface Pending {
  readonly records: readonly OutgoingRecord[];
  readonly onAck: () => void;
}

/**
 * The single way out of the engine, and one ordered send chain: one request
 * is in flight at a time, and output queued meanwhile is coalesced into the
 * next request, so processing runs ahead of the log while a partition's
 * records reach it in the order they were processed, under every guarantee,
 * retries and producer replacement included. (Several requests in flight
 * reordered output: a producer assigns a partition's sequence numbers when it
 * builds each request, and a replaced producer starts a new sequence.) A batch
 * counts as written only when every batch before it is.
 *
 * A failed send is retried with a new producer when a `replaceProducer` is
 * given (at-least-once: an idempotent producer whose request timed out can
 * only be replaced, and the resend may repeat records): the failed request is
 * sent again, ahead of everything queued after it. After `maxRetries`
 * failures in a row, or without a replacement, the failure is fatal: nothing
 * after it is acknowledged, so no offset after it is committed.
 */
export class Outbox {
  private queue: Pending[] = [];
  /** The request in flight (or being recovered), if any. */
  private inFlight: Pending[] | undefined;
  /** True while the send loop runs: it picks up whatever is enqueued meanwhile. */
  private sending = false;
  private failure: unknown;
  private idleWaiters: Array<() => void> = [];
  private failuresInARow = 0;

  constructor(
    private producer: TransportProducer,
    private readonly onSent: (records: readonly OutgoingRecord[]) => void,
    private readonly onFailure: (error: unknown) => void,
    private readonly recovery: OutboxRecovery = {},
  ) {}

  /** Queues a batch's output; `onAck` runs once it, and everything queued before it, is in the log. */
  enqueue(records: readonly OutgoingRecord[], onAck: () => void): void {
    if (this.failure !== undefined) return;
    this.queue.push({ records, onAck });
    if (!this.sending) void this.sendQueued();
  }

  /** Resolves when everything queued so far is acknowledged (or the outbox failed). */
  async flush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === undefined) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends what is queued, one request after another, until the queue is empty or the outbox failed. */
  private async sendQueued(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0 && this.failure === undefined) {
      const batch = this.queue;
      this.queue = [];
      this.inFlight = batch;
      const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((p) => p.records);
      try {
        await this.sendWithRecovery(records);
      } catch (error) {
        this.fail(error);
        break;
      }
      this.inFlight = undefined;
      this.onSent(records);
      for (const p of batch) p.onAck();
    }
    this.inFlight = undefined;
    this.sending = false;
    this.notifyIfIdle();
  }

  /** Sends one request; on failure replaces the producer and sends it again, up to maxRetries times in a row. */
  private async sendWithRecovery(records: readonly OutgoingRecord[]): Promise<void> {
    for (;;) {
      try {
        if (records.length > 0) await this.producer.send(records);
        this.failuresInARow = 0;
        return;
      } catch (error) {
        this.failuresInARow += 1;
        const { replaceProducer, maxRetries = 5, backoffMs = 500, onRetry } = this.recovery;
        if (replaceProducer === undefined || this.failuresInARow > maxRetries) throw error;
        onRetry?.(error, this.failuresInARow);
        await this.producer.close().catch(() => undefined);
        await sleep(backoffMs * 2 ** (this.failuresInARow - 1));
        this.producer = await replaceProducer();
      }
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.queue = [];
    this.inFlight = undefined;
    this.onFailure(error);
  }

  private notifyIfIdle(): void {
    if (this.queue.length > 0 || this.inFlight !== undefined) return;
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

import { setTimeout as sleep } from 'node:timers/promises';
import type { OutgoingRecord } from '../record.js';
import type { TransportProducer } from '../transports/transport.js';

interface Pending {
  readonly records: readonly OutgoingRecord[];
  readonly onAck: () => void;
  /** What the records weigh on the wire (see outputBytes). */
  readonly bytes: number;
}

/**
 * Output bytes queued and in flight before `enqueue` asks its caller to wait:
 * half the Java producer's buffer.memory, as small records weigh 2–3 times
 * their wire bytes in the heap.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** Bytes coalesced into one request, at most (whole batches: a larger batch is a request of its own). */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** A record's size in a produce request: key, value, headers and ~70 bytes of framing. */
export function outputBytes(records: readonly OutgoingRecord[]): number {
  let bytes = 0;
  for (const r of records) {
    bytes += 70 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
    if (r.headers !== undefined) for (const k in r.headers) bytes += k.length + r.headers[k]!.length + 8;
  }
  return bytes;
}

const ROOM = Promise.resolve();

/**
 * The single way out of the engine, and one ordered send chain: one request
 * is in flight at a time, and output queued meanwhile is coalesced into the
 * next request (whole batches, up to `maxRequestBytes`), so processing runs
 * ahead of the log while a partition's records reach it in the order they were
 * processed, under every guarantee, retries and producer replacement included.
 * (Several requests in flight reordered output: a producer assigns a
 * partition's sequence numbers when it builds each request, and a replaced
 * producer starts a new sequence.) A batch counts as written only when every
 * batch before it is.
 *
 * What is queued and in flight is bounded by bytes: past `maxQueuedBytes`,
 * the promise `enqueue` returns waits until acknowledgements make room, and a
 * caller that awaits it stops taking input meanwhile (a batch is queued
 * whole, so the bound is exceeded by one batch per caller at most). Without
 * the bound a large backlog was processed far ahead of the log: ~300k records
 * (~180 MB of heap) queued behind one request of ~150k records, a heap-bounded
 * process spending 40 % of its time collecting garbage, and the first offsets
 * committed only once that request was acknowledged.
 *
 * A failed send is retried with a new producer when a `replaceProducer` is
 * given (at-least-once: an idempotent producer whose request timed out can
 * only be replaced, and the resend may repeat records): the failed request is
 * sent again, ahead of everything queued after it, with a capped backoff, for
 * as long as the brokers may be down (a replacement that cannot connect is one
 * more failure). Once the failures in a row have lasted `maxOutageMs`, or
 * without a replacement, the failure is fatal: nothing after it is
 * acknowledged, so no offset after it is committed.
 */
export class Outbox {
  private queue: Pending[] = [];
  /** The request in flight (or being recovered), if any. */
  private inFlight: Pending[] | undefined;
  /** True while the send loop runs: it picks up whatever is enqueued meanwhile. */
  private sending = false;
  private failure: unknown;
  private idleWaiters: Array<() => void> = [];
  /** Callers waiting for the queued bytes to drop to the bound. */
  private roomWaiters: Array<() => void> = [];
  private failuresInARow = 0;
  /** When the current run of failed sends began. */
  private failingSince: number | undefined;
  /** The producer was closed after a failure: the next attempt starts with a new one. */
  private producerClosed = false;
  /** Aborted by abandon(): ends a resend's backoff. */
  private readonly retries = new AbortController();
  /** Bytes queued and in flight. */
  private bytes = 0;
  private readonly maxQueuedBytes: number;
  private readonly maxRequestBytes: number;

  constructor(
    private producer: TransportProducer,
    private readonly onSent: (records: readonly OutgoingRecord[]) => void,
    private readonly onFailure: (error: unknown) => void,
    private readonly recovery: OutboxRecovery = {},
    limits: OutboxLimits = {},
  ) {
    this.maxQueuedBytes = limits.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.maxRequestBytes = limits.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  }

  /**
   * Queues a batch's output; `onAck` runs once it, and everything queued
   * before it, is in the log. The promise resolves at once while the bytes
   * queued and in flight are within the bound, else once acknowledgements
   * bring them back to it (or the outbox failed): a caller that awaits it
   * takes no more input meanwhile.
   */
  enqueue(records: readonly OutgoingRecord[], onAck: () => void): Promise<void> {
    if (this.failure !== undefined) return ROOM;
    const bytes = outputBytes(records);
    this.queue.push({ records, onAck, bytes });
    this.bytes += bytes;
    if (!this.sending) void this.sendQueued();
    return this.room();
  }

  /** Bytes queued and in flight (not yet acknowledged). */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Resolves when the bytes queued and in flight are within the bound (or the outbox failed). */
  room(): Promise<void> {
    if (this.bytes <= this.maxQueuedBytes || this.failure !== undefined) return ROOM;
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
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
      const batch = this.takeRequest();
      this.inFlight = batch;
      const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((p) => p.records);
      try {
        await this.sendWithRecovery(records);
      } catch (error) {
        this.fail(error);
        break;
      }
      this.inFlight = undefined;
      for (const p of batch) this.bytes -= p.bytes;
      this.onSent(records);
      for (const p of batch) p.onAck();
      this.notifyIfRoom();
    }
    this.inFlight = undefined;
    this.sending = false;
    this.notifyIfIdle();
  }

  /** The next request: whole batches from the head of the queue, up to maxRequestBytes (one batch at least). */
  private takeRequest(): Pending[] {
    let take = 1;
    let bytes = this.queue[0]!.bytes;
    while (take < this.queue.length && bytes + this.queue[take]!.bytes <= this.maxRequestBytes) {
      bytes += this.queue[take]!.bytes;
      take += 1;
    }
    if (take === this.queue.length) {
      const all = this.queue;
      this.queue = [];
      return all;
    }
    return this.queue.splice(0, take);
  }

  /**
   * Stops for good, as the application stops: a resend waiting for its turn
   * is given up (its batches are never acknowledged, so never committed),
   * nothing queued is sent, callers waiting for room are let go, and no
   * failure is reported.
   */
  abandon(): void {
    this.failure ??= new Error('the outbox was abandoned');
    this.queue = [];
    this.retries.abort();
    this.notifyIfRoom();
    this.notifyIfIdle();
  }

  /**
   * Sends one request; on failure replaces the producer and sends it again,
   * until the failures in a row have lasted maxOutageMs.
   */
  private async sendWithRecovery(records: readonly OutgoingRecord[]): Promise<void> {
    const {
      replaceProducer,
      maxOutageMs = DEFAULT_MAX_OUTAGE_MS,
      backoffMs = 500,
      maxBackoffMs = 5_000,
      onRetry,
    } = this.recovery;
    for (;;) {
      try {
        // the brokers may still be down: connecting the replacement can fail like a send
        if (this.producerClosed && replaceProducer !== undefined) {
          this.producer = await replaceProducer();
          this.producerClosed = false;
        }
        if (records.length > 0) await this.producer.send(records);
        this.failuresInARow = 0;
        this.failingSince = undefined;
        return;
      } catch (error) {
        // abandoned meanwhile: nothing more is tried
        if (this.failure !== undefined) throw error;
        this.failuresInARow += 1;
        this.failingSince ??= Date.now();
        const outageMs = Date.now() - this.failingSince;
        if (replaceProducer === undefined || outageMs >= maxOutageMs) throw error;
        onRetry?.(error, this.failuresInARow, outageMs);
        if (!this.producerClosed) {
          await this.producer.close().catch(() => undefined);
          this.producerClosed = true;
        }
        // the last attempt comes when the outage budget ends, not a backoff after it
        const backoff = Math.min(maxBackoffMs, backoffMs * 2 ** (this.failuresInARow - 1));
        await sleep(Math.max(1, Math.min(backoff, maxOutageMs - outageMs)), undefined, {
          signal: this.retries.signal,
        });
        if (this.failure !== undefined) throw error;
      }
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.queue = [];
    this.inFlight = undefined;
    this.onFailure(error);
    this.notifyIfRoom();
  }

  private notifyIfRoom(): void {
    if (this.roomWaiters.length === 0) return;
    if (this.bytes > this.maxQueuedBytes && this.failure === undefined) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  private notifyIfIdle(): void {
    if (this.queue.length > 0 || this.inFlight !== undefined) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** How much the outbox holds and sends at once. */
export interface OutboxLimits {
  /** Bytes queued and in flight before `enqueue` asks its caller to wait. Default 16 MiB. */
  readonly maxQueuedBytes?: number;
  /** Bytes coalesced into one request, at most (whole batches). Default 4 MiB. */
  readonly maxRequestBytes?: number;
}

/** How long sends may keep failing before the outbox gives up, by default (the application's maxBrokerOutageMs). */
export const DEFAULT_MAX_OUTAGE_MS = 120_000;

/** How the outbox recovers from a failed send (at-least-once only). */
export interface OutboxRecovery {
  /** A fresh producer; without it a failed send is fatal. */
  readonly replaceProducer?: () => Promise<TransportProducer>;
  /**
   * How long sends may keep failing, from the first failure in a row, before
   * the failure is fatal (the brokers down longer than this). Default 120 s.
   */
  readonly maxOutageMs?: number;
  /** Wait before the first resend, doubled per failure in a row. Default 500 ms. */
  readonly backoffMs?: number;
  /** The longest wait between resends. Default 5 s. */
  readonly maxBackoffMs?: number;
  /** Told of each failure that will be retried, and how long sends have been failing. */
  readonly onRetry?: (error: unknown, failuresInARow: number, outageMs: number) => void;
}

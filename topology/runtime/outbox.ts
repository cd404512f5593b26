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
 * A failed send is fatal: nothing after it is acknowledged, so no offset after
 * it is ever committed.
 */
export class Outbox {
  private queue: Pending[] = [];
  /** Requests in flight, oldest first. */
  private readonly inFlight: Array<{
    done: Promise<void>;
    batch: Pending[];
    records: readonly OutgoingRecord[];
    settled: boolean;
  }> = [];
  private failure: unknown;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly producer: TransportProducer,
    private readonly onSent: (records: readonly OutgoingRecord[]) => void,
    private readonly onFailure: (error: unknown) => void,
    private readonly maxInFlight = 1,
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
    while (this.queue.length > 0 && this.inFlight.length < this.maxInFlight && this.failure === undefined) {
      const batch = this.queue;
      this.queue = [];
      const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((p) => p.records);
      const request = { batch, records, settled: false, done: Promise.resolve() };
      request.done = (records.length > 0 ? this.producer.send(records) : Promise.resolve()).then(
        () => {
          request.settled = true;
          this.acknowledgeInOrder();
        },
        (error: unknown) => this.fail(error),
      );
      this.inFlight.push(request);
    }
    this.notifyIfIdle();
  }

  private acknowledgeInOrder(): void {
    while (this.inFlight[0]?.settled) {
      const request = this.inFlight.shift()!;
      this.onSent(request.records);
      for (const p of request.batch) p.onAck();
    }
    this.startRequests();
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
    if (this.queue.length > 0 || this.inFlight.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

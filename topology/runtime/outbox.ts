import type { OutgoingRecord } from '../record.js';
import type { TransportProducer } from '../transports/transport.js';

interface Pending {
  readonly records: readonly OutgoingRecord[];
  readonly onAck: () => void;
}

/**
 * The single way out of the engine. One produce request is in flight at a
 * time; output that arrives meanwhile is coalesced into the next request. This
 * keeps per-partition order without idempotence tricks and turns many small
 * batches into few large requests. A failed send is fatal: nothing after it is
 * acknowledged, so no offset after it is ever committed.
 */
export class Outbox {
  private queue: Pending[] = [];
  private sending: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly producer: TransportProducer,
    private readonly onSent: (records: readonly OutgoingRecord[]) => void,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  /** Queues a batch's output; `onAck` runs once it is in the log. */
  enqueue(records: readonly OutgoingRecord[], onAck: () => void): void {
    if (this.failure !== undefined) return;
    this.queue.push({ records, onAck });
    this.startPump();
  }

  /** Resolves when everything queued so far is acknowledged (or the outbox failed). */
  async flush(): Promise<void> {
    while (this.sending !== undefined) await this.sending;
  }

  private startPump(): void {
    if (this.sending !== undefined || this.queue.length === 0 || this.failure !== undefined) return;
    // cleared in a continuation, never inside pump(): a pump that finishes without awaiting
    // (an empty batch) would otherwise clear `sending` before it is assigned
    this.sending = this.pump().finally(() => {
      this.sending = undefined;
      this.startPump();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && this.failure === undefined) {
      const batch = this.queue;
      this.queue = [];
      const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((p) => p.records);
      try {
        if (records.length > 0) await this.producer.send(records);
      } catch (error) {
        this.failure = error;
        this.queue = [];
        this.onFailure(error);
        break;
      }
      this.onSent(records);
      for (const p of batch) p.onAck();
    }
  }
}

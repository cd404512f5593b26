import type { OutgoingRecord } from '../../topology/index.js';
import type {
  CommitOffset,
  TransactionalProducer,
  TransportProducer,
} from '../../topology/transports/transport.js';

/** A producer whose requests the test acknowledges or fails one by one, in order. */
export class ManualLog implements TransportProducer {
  readonly requests: OutgoingRecord[][] = [];
  private pending: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  send(records: readonly OutgoingRecord[]): Promise<void> {
    this.requests.push([...records]);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  ack(): void {
    this.pending.shift()?.resolve();
  }
  fail(error: Error): void {
    this.pending.shift()?.reject(error);
  }
  async close(): Promise<void> {}
}

/** One turn of the event loop: what the outbox does after an acknowledgement has happened. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A transactional producer whose transactions the test commits or fails one by one, in order. */
export class ManualTransactions implements TransactionalProducer {
  readonly transactions: Array<{ records: OutgoingRecord[]; offsets: CommitOffset[] }> = [];
  private pending: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  sendTransaction(records: readonly OutgoingRecord[], offsets: readonly CommitOffset[]): Promise<void> {
    this.transactions.push({ records: [...records], offsets: [...offsets] });
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  commit(): void {
    this.pending.shift()?.resolve();
  }
  fail(error: Error): void {
    this.pending.shift()?.reject(error);
  }
  async close(): Promise<void> {}
}

import type { OutgoingRecord } from '../../topology/index.js';
import type {
  CommitOffset,
  TransactionalProducer,
  TransportProducer,
} from '../../topology/transports/transport.js';

/** Replies the test gives one by one, in the order they were asked for. */
class PendingReplies {
  private pending: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  next(): Promise<void> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  succeed(): void {
    this.pending.shift()?.resolve();
  }
  fail(error: Error): void {
    this.pending.shift()?.reject(error);
  }
}

/** A producer whose requests the test acknowledges or fails one by one, in order. */
export class ManualLog implements TransportProducer {
  readonly requests: OutgoingRecord[][] = [];
  private readonly replies = new PendingReplies();
  send(records: readonly OutgoingRecord[]): Promise<void> {
    this.requests.push([...records]);
    return this.replies.next();
  }
  ack(): void {
    this.replies.succeed();
  }
  fail(error: Error): void {
    this.replies.fail(error);
  }
  async close(): Promise<void> {}
}

/** One turn of the event loop: what the outbox does after an acknowledgement has happened. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A transactional producer whose transactions the test commits or fails one by one, in order. */
export class ManualTransactions implements TransactionalProducer {
  readonly transactions: Array<{ records: OutgoingRecord[]; offsets: CommitOffset[] }> = [];
  private readonly replies = new PendingReplies();
  sendTransaction(records: readonly OutgoingRecord[], offsets: readonly CommitOffset[]): Promise<void> {
    this.transactions.push({ records: [...records], offsets: [...offsets] });
    return this.replies.next();
  }
  commit(): void {
    this.replies.succeed();
  }
  fail(error: Error): void {
    this.replies.fail(error);
  }
  async close(): Promise<void> {}
}

import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../../../topology/index.js';
import { Outbox } from '../../../topology/runtime/outbox.js';
import type { TransportProducer } from '../../../topology/transports/transport.js';

const record = (n: number): OutgoingRecord => ({
  topic: 't',
  partition: 0,
  key: null,
  value: Buffer.from(String(n)),
  timestamp: n,
});

/** A log that acknowledges when the test says so. */
class ManualLog implements TransportProducer {
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

const tick = () => new Promise((r) => setImmediate(r));

describe('the outbox', () => {
  it('acknowledges an empty batch and flushes without sending anything', async () => {
    const log = new ManualLog();
    const outbox = new Outbox(
      log,
      () => undefined,
      () => undefined,
    );
    let acked = false;
    outbox.enqueue([], () => {
      acked = true;
    });
    await outbox.flush();
    expect(acked).toBe(true);
    expect(log.requests).toHaveLength(0);
  });

  it('keeps one request in flight and coalesces what arrives meanwhile, acknowledging in order', async () => {
    const log = new ManualLog();
    const acks: number[] = [];
    const outbox = new Outbox(
      log,
      () => undefined,
      () => undefined,
    );
    outbox.enqueue([record(1)], () => acks.push(1));
    outbox.enqueue([record(2)], () => acks.push(2));
    outbox.enqueue([record(3)], () => acks.push(3));
    await tick();
    expect(log.requests.map((r) => r.length)).toEqual([1]);
    log.ack();
    await tick();
    expect(acks).toEqual([1]);
    expect(log.requests.map((r) => r.length)).toEqual([1, 2]);
    log.ack();
    await outbox.flush();
    expect(acks).toEqual([1, 2, 3]);
  });

  it('a failed send is fatal: nothing after it is acknowledged', async () => {
    const log = new ManualLog();
    const acks: number[] = [];
    const failures: unknown[] = [];
    const outbox = new Outbox(
      log,
      () => undefined,
      (e) => failures.push(e),
    );
    outbox.enqueue([record(1)], () => acks.push(1));
    outbox.enqueue([record(2)], () => acks.push(2));
    await tick();
    log.fail(new Error('broker gone'));
    await outbox.flush();
    outbox.enqueue([record(3)], () => acks.push(3));
    await outbox.flush();
    expect(acks).toEqual([]);
    expect(failures).toHaveLength(1);
  });

  it('resends, with a new producer, the failed request and then what was queued after it, in order', async () => {
    const first = new ManualLog();
    const second = new ManualLog();
    const acks: number[] = [];
    const retries: number[] = [];
    let fatal: unknown;
    const outbox = new Outbox(
      first,
      () => undefined,
      (e) => {
        fatal = e;
      },
      { replaceProducer: async () => second, backoffMs: 1, onRetry: (_e, n) => retries.push(n) },
    );
    outbox.enqueue([record(1)], () => acks.push(1));
    outbox.enqueue([record(2)], () => acks.push(2));
    await tick();
    outbox.enqueue([record(3)], () => acks.push(3));
    first.fail(new Error('request timed out'));
    await new Promise((r) => setTimeout(r, 20));
    expect(retries).toEqual([1]);
    expect(acks).toEqual([]);
    // the failed request first, alone; nothing queued behind it overtook it
    expect(second.requests.map((r) => r.map((x) => Number(x.value)))).toEqual([[1]]);
    second.ack();
    await tick();
    expect(acks).toEqual([1]);
    expect(second.requests.map((r) => r.map((x) => Number(x.value)))).toEqual([[1], [2, 3]]);
    second.ack();
    await outbox.flush();
    expect(acks).toEqual([1, 2, 3]);
    expect(fatal).toBeUndefined();
  });

  it('gives up after maxRetries failures in a row: the failure is fatal and nothing after it is acknowledged', async () => {
    const logs = [new ManualLog(), new ManualLog(), new ManualLog()];
    let next = 1;
    let fatal: unknown;
    const acks: number[] = [];
    const outbox = new Outbox(
      logs[0]!,
      () => undefined,
      (e) => {
        fatal = e;
      },
      { replaceProducer: async () => logs[next++]!, maxRetries: 1, backoffMs: 1 },
    );
    outbox.enqueue([record(1)], () => acks.push(1));
    logs[0]!.fail(new Error('first'));
    await new Promise((r) => setTimeout(r, 20));
    logs[1]!.fail(new Error('second'));
    await outbox.flush();
    expect((fatal as Error).message).toBe('second');
    expect(acks).toEqual([]);
    expect(logs[2]!.requests).toHaveLength(0);
  });
});

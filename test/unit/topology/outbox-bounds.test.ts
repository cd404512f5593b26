import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../../../topology/index.js';
import { Outbox, outputBytes } from '../../../topology/runtime/outbox.js';
import { ManualLog, tick } from '../../support/manual-log.js';

/** A record of 70 + 30 = 100 bytes on the wire. */
const record = (n: number): OutgoingRecord => ({
  topic: 't',
  partition: 0,
  key: null,
  value: Buffer.from(String(n).padStart(30, '0')),
  timestamp: n,
});

const values = (log: ManualLog) => log.requests.map((r) => r.map((x) => Number(x.value)));

describe('the outbox bounds what it holds by bytes', () => {
  it('weighs a record as its key, value and headers plus 70 bytes of framing', () => {
    expect(outputBytes([record(1)])).toBe(100);
    expect(outputBytes([{ ...record(1), key: Buffer.from('k'), headers: { h: Buffer.from('v') } }])).toBe(
      100 + 1 + 1 + 1 + 8,
    );
  });

  it('coalesces whole batches into a request up to maxRequestBytes, one batch at least', async () => {
    const log = new ManualLog();
    const acks: number[] = [];
    const outbox = new Outbox(
      log,
      () => undefined,
      () => undefined,
      {},
      { maxRequestBytes: 250 },
    );
    void outbox.enqueue([record(1)], () => acks.push(1));
    // queued while the first request is in flight: 2 and 3 fit in 250 bytes, the 3 records of 4 alone do not
    void outbox.enqueue([record(2)], () => acks.push(2));
    void outbox.enqueue([record(3)], () => acks.push(3));
    void outbox.enqueue([record(4), record(5), record(6)], () => acks.push(4));
    void outbox.enqueue([record(7)], () => acks.push(7));
    await tick();
    for (let i = 0; i < 4; i++) {
      log.ack();
      await tick();
    }
    await outbox.flush();
    expect(values(log)).toEqual([[1], [2, 3], [4, 5, 6], [7]]);
    expect(acks).toEqual([1, 2, 3, 4, 7]);
  });

  it('asks callers to wait past maxQueuedBytes and lets them go once acknowledgements make room', async () => {
    const log = new ManualLog();
    const outbox = new Outbox(
      log,
      () => undefined,
      () => undefined,
      {},
      { maxQueuedBytes: 250, maxRequestBytes: 100 },
    );
    const resolved: number[] = [];
    const wait = (n: number, p: Promise<void>) => p.then(() => resolved.push(n));
    void wait(
      1,
      outbox.enqueue([record(1)], () => undefined),
    );
    void wait(
      2,
      outbox.enqueue([record(2)], () => undefined),
    );
    await tick();
    // 200 bytes held: within the bound
    expect(resolved).toEqual([1, 2]);
    void wait(
      3,
      outbox.enqueue([record(3)], () => undefined),
    );
    void wait(
      4,
      outbox.enqueue([record(4)], () => undefined),
    );
    await tick();
    // 400 bytes held: both wait
    expect(resolved).toEqual([1, 2]);
    expect(outbox.queuedBytes).toBe(400);
    log.ack();
    await tick();
    // 300 bytes: still past the bound
    expect(resolved).toEqual([1, 2]);
    log.ack();
    await tick();
    expect(resolved).toEqual([1, 2, 3, 4]);
    expect(outbox.queuedBytes).toBe(200);
    log.ack();
    await tick();
    log.ack();
    await outbox.flush();
    expect(outbox.queuedBytes).toBe(0);
    expect(values(log)).toEqual([[1], [2], [3], [4]]);
  });

  it('lets waiting callers go when the outbox fails', async () => {
    const log = new ManualLog();
    const failures: unknown[] = [];
    const outbox = new Outbox(
      log,
      () => undefined,
      (e) => failures.push(e),
      {},
      { maxQueuedBytes: 50 },
    );
    let released = false;
    void outbox
      .enqueue([record(1)], () => undefined)
      .then(() => {
        released = true;
      });
    await tick();
    expect(released).toBe(false);
    log.fail(new Error('broker gone'));
    await outbox.flush();
    await tick();
    expect(released).toBe(true);
    expect(failures).toHaveLength(1);
    // a failed outbox holds nothing and never asks anyone to wait
    await outbox.enqueue([record(2)], () => undefined);
  });
});

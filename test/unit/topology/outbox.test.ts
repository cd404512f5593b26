import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../../../topology/index.js';
import { Outbox } from '../../../topology/runtime/outbox.js';
import type { TransportProducer } from '../../../topology/transports/transport.js';
import { ManualLog, tick } from '../../support/manual-log.js';

const record = (n: number): OutgoingRecord => ({
  topic: 't',
  partition: 0,
  key: null,
  value: Buffer.from(String(n)),
  timestamp: n,
});

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

  it('resends through an outage shorter than maxOutageMs, also when new producers cannot connect meanwhile', async () => {
    const first = new ManualLog();
    const back = new ManualLog();
    const acks: number[] = [];
    const retries: number[] = [];
    let replacements = 0;
    let fatal: unknown;
    const outbox = new Outbox(
      first,
      () => undefined,
      (e) => {
        fatal = e;
      },
      {
        // the brokers are down for the first three replacements
        replaceProducer: async () => {
          replacements += 1;
          if (replacements <= 3) throw new Error('connect ECONNREFUSED');
          return back;
        },
        maxOutageMs: 5_000,
        backoffMs: 1,
        maxBackoffMs: 4,
        onRetry: (_e, n) => retries.push(n),
      },
    );
    outbox.enqueue([record(1)], () => acks.push(1));
    await tick();
    first.fail(new Error('broker gone'));
    await new Promise((r) => setTimeout(r, 100));
    // one failed send, three failed connects, then the request again on the producer that connected
    expect(retries).toEqual([1, 2, 3, 4]);
    expect(back.requests.map((r) => r.map((x) => Number(x.value)))).toEqual([[1]]);
    back.ack();
    await outbox.flush();
    expect(acks).toEqual([1]);
    expect(fatal).toBeUndefined();
  });

  it('gives up once sends have kept failing for maxOutageMs: the failure is fatal and nothing after it is acknowledged', async () => {
    let fatal: unknown;
    const acks: number[] = [];
    let attempts = 0;
    const failing: TransportProducer = {
      send: async () => {
        attempts += 1;
        throw new Error(`attempt ${attempts}`);
      },
      close: async () => undefined,
    };
    const began = Date.now();
    const outbox = new Outbox(
      failing,
      () => undefined,
      (e) => {
        fatal = e;
      },
      { replaceProducer: async () => failing, maxOutageMs: 200, backoffMs: 1, maxBackoffMs: 8 },
    );
    outbox.enqueue([record(1)], () => acks.push(1));
    outbox.enqueue([record(2)], () => acks.push(2));
    await outbox.flush();
    expect(Date.now() - began).toBeGreaterThanOrEqual(200);
    // retried through the budget (backoff capped at 8 ms), not a fixed number of times (it was 5)
    expect(attempts).toBeGreaterThan(6);
    expect((fatal as Error).message).toBe(`attempt ${attempts}`);
    expect(acks).toEqual([]);
  });

  it('abandon() ends a resend in its backoff: nothing more is sent or acknowledged, no failure is reported', async () => {
    const first = new ManualLog();
    const second = new ManualLog();
    let fatal: unknown;
    const acks: number[] = [];
    const outbox = new Outbox(
      first,
      () => undefined,
      (e) => {
        fatal = e;
      },
      { replaceProducer: async () => second, backoffMs: 60_000, maxBackoffMs: 60_000 },
    );
    outbox.enqueue([record(1)], () => acks.push(1));
    await tick();
    first.fail(new Error('broker gone'));
    await tick();
    outbox.abandon();
    await outbox.flush();
    outbox.enqueue([record(2)], () => acks.push(2));
    await outbox.flush();
    expect(second.requests).toHaveLength(0);
    expect(acks).toEqual([]);
    expect(fatal).toBeUndefined();
  });
});

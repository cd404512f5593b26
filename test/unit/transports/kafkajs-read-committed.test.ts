/**
 * kafkajs 2.2.4 filters aborted transactions for read_committed consumers in
 * `filterAbortedMessages`, which activated one aborted transaction per message:
 * when two producers' aborted transactions began before a fetch's first record
 * (the output topic of a topology written by several task producers), records
 * of the second were delivered as committed. patches/kafkajs+2.2.4.patch
 * (applied by `npm ci` through patch-package) fixes it; this test pins it.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages.js') as (input: {
  messages: Message[];
  abortedTransactions: Array<{ producerId: string; firstOffset: string }>;
}) => Message[];

interface Message {
  offset: string;
  key: Buffer | null;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

const data = (offset: number, producerId: string, key: string | null = 'k'): Message => ({
  offset: String(offset),
  key: key === null ? null : Buffer.from(key),
  isControlRecord: false,
  batchContext: { producerId, inTransaction: true },
});
const abortMarker = (offset: number, producerId: string): Message => ({
  offset: String(offset),
  key: Buffer.from([0, 0, 0, 0]),
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});
const commitMarker = (offset: number, producerId: string): Message => ({
  ...abortMarker(offset, producerId),
  key: Buffer.from([0, 0, 0, 1]),
});

describe('kafkajs read_committed filtering (patched)', () => {
  it('drops the records of every aborted transaction that began before the fetch, whatever their order', () => {
    // producers 1 and 2 both aborted transactions that began before offset 10; producer 3 committed
    const messages = [
      data(10, '1'),
      data(11, '2'),
      data(12, '3'),
      abortMarker(13, '1'),
      data(14, '2'),
      abortMarker(15, '2'),
      commitMarker(16, '3'),
      data(17, '1'),
    ];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [
        { producerId: '2', firstOffset: '5' },
        { producerId: '1', firstOffset: '3' },
      ],
    });
    expect(kept.filter((m) => !m.isControlRecord).map((m) => Number(m.offset))).toEqual([12, 17]);
  });

  it('never takes a data record whose key happens to be four zero bytes for an abort marker', () => {
    const messages = [data(1, '1', '\u0000\u0000\u0000\u0000'), data(2, '1'), abortMarker(3, '1')];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [{ producerId: '1', firstOffset: '1' }],
    });
    expect(kept.filter((m) => !m.isControlRecord)).toEqual([]);
  });
});

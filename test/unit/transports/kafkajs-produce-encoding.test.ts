/**
 * patches/kafkajs+2.2.4.patch encodes an uncompressed produce request's
 * record batches in one buffer per partition (`encodeUncompressedPartition`)
 * instead of kafkajs's Encoder per record, which a CPU profile of the
 * session-count bench put at a quarter of the engine's main thread with the
 * garbage it made. The bytes must be kafkajs's own: this test encodes the same
 * messages with kafkajs's Record and RecordBatch encoders (the oracle) and
 * compares, then reads the batch back with kafkajs's decoder.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../processors/seeded-random.js';

const require = createRequire(import.meta.url);

interface EncoderLike {
  buffer: Buffer;
  size(): number;
}
interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  timestamp?: string | number;
  headers?: Record<string, Buffer | string | Array<Buffer | string>>;
}
interface PartitionInput {
  partition: number;
  messages: Message[];
  firstTimestamp: string | number;
  maxTimestamp: string | number;
  dateNow: number;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  transactional: boolean;
}

const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as {
  encodeUncompressedPartition(input: PartitionInput): EncoderLike;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
  input: object,
) => EncoderLike;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch(input: object): Promise<EncoderLike>;
};
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => {
  writeInt32(value: number): ReturnType<typeof Encoder.prototype.writeInt32>;
  writeEncoder(value: EncoderLike): EncoderLike;
} & EncoderLike;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (
  buffer: Buffer,
) => {
  readInt32(): number;
};
const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
  decoder: unknown,
) => Promise<{
  records: Array<{ key: Buffer | null; value: Buffer | null; timestamp: string; headers: object }>;
  inTransaction: boolean;
  producerId: string;
  firstSequence: number;
}>;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: unknown): unknown };

/** kafkajs's original path: a Record per message, a RecordBatch, then partition and size. */
async function oracle(input: PartitionInput): Promise<Buffer> {
  const first = Number(input.firstTimestamp);
  const records = input.messages.map((message, i) =>
    Record({
      ...message,
      offsetDelta: i,
      timestampDelta: Number(message.timestamp || input.dateNow) - first,
    }),
  );
  const batch = await RecordBatch({
    records,
    firstTimestamp: input.firstTimestamp,
    maxTimestamp: input.maxTimestamp,
    ...(input.producerId === undefined ? {} : { producerId: input.producerId }),
    ...(input.producerEpoch === undefined ? {} : { producerEpoch: input.producerEpoch }),
    ...(input.firstSequence === undefined ? {} : { firstSequence: input.firstSequence }),
    transactional: input.transactional,
    lastOffsetDelta: records.length - 1,
  });
  const encoder = new Encoder();
  encoder.writeInt32(input.partition);
  encoder.writeInt32(batch.size());
  return encoder.writeEncoder(batch).buffer;
}

/** The first offset where two encodings differ, or -1: a diff of whole batches would not be readable. */
function firstDifference(actual: Buffer, expected: Buffer): number {
  const length = Math.min(actual.length, expected.length);
  for (let i = 0; i < length; i++) if (actual[i] !== expected[i]) return i;
  return actual.length === expected.length ? -1 : length;
}

function bounds(messages: Message[], dateNow: number): { first: number; max: number } {
  const times = messages.filter((m) => m.timestamp != null).map((m) => Number(m.timestamp));
  return times.length === 0
    ? { first: dateNow, max: dateNow }
    : { first: Math.min(...times), max: Math.max(...times) };
}

function input(messages: Message[], extra: Partial<PartitionInput> = {}): PartitionInput {
  const dateNow = 1_764_000_000_000;
  const { first, max } = bounds(messages, dateNow);
  return {
    partition: 2,
    messages,
    firstTimestamp: first,
    maxTimestamp: max,
    dateNow,
    transactional: false,
    ...extra,
  };
}

describe('kafkajs produce encoding (patched)', () => {
  it('writes the bytes kafkajs writes for plain records', async () => {
    const messages: Message[] = [
      { key: Buffer.from('user-1'), value: Buffer.from('{"a":1}'), timestamp: 1_700_000_000_000 },
      { key: null, value: Buffer.from('x'), timestamp: 1_700_000_000_005 },
      { key: Buffer.from('k'), value: null, timestamp: 1_700_000_000_001 },
    ];
    const example = input(messages);
    expect(
      firstDifference(produceRequest.encodeUncompressedPartition(example).buffer, await oracle(example)),
    ).toBe(-1);
  });

  it('writes the same bytes for strings, headers, missing timestamps, idempotent and transactional batches', async () => {
    const messages: Message[] = [
      { key: 'ключ', value: 'värde', timestamp: '1700000000000' },
      { value: 'no key, no timestamp' },
      {
        key: 'h',
        value: Buffer.alloc(0),
        timestamp: 1_700_000_000_000 + 40 * 86_400_000, // a delta past 32 bits of milliseconds
        headers: { reason: 'bad', many: ['one', Buffer.from([0, 1, 2])], empty: '' },
      },
    ];
    for (const extra of [
      {},
      { producerId: Long.fromValue(4242), producerEpoch: 3, firstSequence: 123_456 },
      {
        producerId: Long.fromValue('9007199254740993'),
        producerEpoch: 1,
        firstSequence: 7,
        transactional: true,
      },
    ]) {
      const example = input(messages, extra);
      expect(
        firstDifference(produceRequest.encodeUncompressedPartition(example).buffer, await oracle(example)),
      ).toBe(-1);
    }
  });

  it('writes the same bytes for a seeded batch of 5,000 records of every length class, and kafkajs reads them back', async () => {
    const next = seededRandom(7);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
    const lengths = [0, 1, 63, 64, 127, 128, 8_191, 8_192, 20_000];
    const messages: Message[] = Array.from({ length: 5_000 }, (_, i) => ({
      key: i % 97 === 0 ? null : bytes(lengths[Math.floor(next() * 4)]!),
      value: i % 89 === 0 ? null : bytes(lengths[Math.floor(next() * lengths.length)]!),
      timestamp: 1_700_000_000_000 + Math.floor(next() * 3_000_000_000),
    }));
    const example = input(messages, {
      producerId: Long.fromValue(77),
      producerEpoch: 2,
      firstSequence: 1_000,
    });
    const encoded = produceRequest.encodeUncompressedPartition(example).buffer;
    expect(firstDifference(encoded, await oracle(example))).toBe(-1);

    const decoder = new Decoder(encoded);
    expect(decoder.readInt32()).toBe(2); // partition
    expect(decoder.readInt32()).toBe(encoded.length - 8); // the batch's size
    const batch = await RecordBatchDecoder(decoder);
    expect(batch.records).toHaveLength(messages.length);
    expect(batch.firstSequence).toBe(1_000);
    const same = (a: Buffer | null, b: unknown) =>
      a === null ? b == null : Buffer.isBuffer(b) && a.equals(b);
    const misread = batch.records.findIndex(
      (record, i) =>
        !same(record.key, messages[i]!.key) ||
        !same(record.value, messages[i]!.value) ||
        record.timestamp !== String(messages[i]!.timestamp),
    );
    expect(misread).toBe(-1);
  });
});

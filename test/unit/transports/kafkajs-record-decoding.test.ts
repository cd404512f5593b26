/**
 * patches/kafkajs+2.2.4.patch reads a fetched record's timestamp delta,
 * offset and timestamp as numbers instead of with Long objects (several per
 * varint byte, and a Long addition and toString per field), falling back to
 * kafkajs's Long path past 2^53. The records must be kafkajs's own: each is
 * decoded by both paths (`withLongs` is kafkajs's decoder, kept as the
 * fallback) and compared field by field.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../processors/seeded-random.js';

const require = createRequire(import.meta.url);

interface EncoderLike {
  buffer: Buffer;
}
interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  timestampType: number;
  magicByte: number;
  isControlBatch?: boolean;
}
type RecordDecoder = (decoder: DecoderLike, context: BatchContext) => Record<string, unknown>;
interface DecoderLike {
  offset: number;
  readVarInt(): number;
}

const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
  input: object,
) => EncoderLike;
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as RecordDecoder & {
  withLongs: RecordDecoder;
};
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => DecoderLike;

const CREATE_TIME = 0;
const LOG_APPEND_TIME = 1;

/** Decodes every record of `bytes` with both paths; returns the first index where they differ, or -1. */
function firstDifference(bytes: Buffer, count: number, context: BatchContext): number {
  const fast = new Decoder(bytes);
  const slow = new Decoder(bytes);
  for (let i = 0; i < count; i++) {
    // each record starts with its length, which kafkajs's batch decoder reads before the record decoder
    fast.readVarInt();
    slow.readVarInt();
    const a = decodeRecord(fast, context);
    const b = decodeRecord.withLongs(slow, context);
    if (JSON.stringify(a) !== JSON.stringify(b) || fast.offset !== slow.offset) return i;
  }
  return fast.offset === bytes.length ? -1 : count;
}

function records(
  count: number,
  next: () => number,
  delta: (i: number) => number,
): { bytes: Buffer; count: number } {
  const encoded = Array.from(
    { length: count },
    (_, i) =>
      Record({
        offsetDelta: i,
        timestampDelta: delta(i),
        key: i % 7 === 0 ? null : Buffer.from(`key-${Math.floor(next() * 1e6)}`),
        value: i % 11 === 0 ? null : Buffer.alloc(Math.floor(next() * 300), i),
        headers: i % 5 === 0 ? { reason: `r${i}`, many: ['a', 'b'] } : {},
      }).buffer,
  );
  return { bytes: Buffer.concat(encoded), count };
}

const context = (firstOffset: string, firstTimestamp: string, timestampType = CREATE_TIME): BatchContext => ({
  firstOffset,
  firstTimestamp,
  maxTimestamp: '1700000999999',
  timestampType,
  magicByte: 2,
});

describe('kafkajs record decoding (patched)', () => {
  it('decodes what kafkajs decodes: seeded records, deltas of every size, both timestamp types', () => {
    const next = seededRandom(11);
    const input = records(3_000, next, (i) => Math.floor(next() * 2 ** (i % 48)));
    expect(firstDifference(input.bytes, input.count, context('0', '1700000000000'))).toBe(-1);
    expect(firstDifference(input.bytes, input.count, context('123456789012', '-1'))).toBe(-1);
    expect(firstDifference(input.bytes, input.count, context('42', '1700000000000', LOG_APPEND_TIME))).toBe(
      -1,
    );
  });

  it('falls back to Longs past 2^53: offsets near 2^63, negative and huge timestamp deltas', () => {
    const next = seededRandom(12);
    const input = records(500, next, (i) => (i % 2 === 0 ? -Math.floor(next() * 1e6) : 2 ** 60 + i));
    expect(firstDifference(input.bytes, input.count, context('9223372036854775000', '1700000000000'))).toBe(
      -1,
    );
    expect(firstDifference(input.bytes, input.count, context('9007199254740990', '1700000000000'))).toBe(-1);
    expect(firstDifference(input.bytes, input.count, context('5', '9007199254740000'))).toBe(-1);
  });

  it('returns the offset and timestamp as the strings kafkajs gives', () => {
    const next = seededRandom(13);
    const input = records(3, next, (i) => i * 1000);
    const decoder = new Decoder(input.bytes);
    decoder.readVarInt();
    const first = decodeRecord(decoder, context('100', '1700000000000'));
    decoder.readVarInt();
    const second = decodeRecord(decoder, context('100', '1700000000000'));
    expect([first.offset, first.timestamp]).toEqual(['100', '1700000000000']);
    expect([second.offset, second.timestamp]).toEqual(['101', '1700000001000']);
  });
});

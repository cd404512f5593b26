import { describe, expect, it } from 'vitest';
import { readInt64BE, writeInt64BE } from '../../../topology/serdes/int64.js';

const values = [
  0,
  1,
  -1,
  1_795_578_269_775,
  -1_795_578_269_775,
  2 ** 32 - 1,
  2 ** 32,
  -(2 ** 32),
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];

describe('64-bit big-endian integers without BigInt', () => {
  it.each(values)('%d: the bytes of Buffer#writeBigInt64BE, read back to the same number', (value) => {
    const ours = Buffer.alloc(10);
    const reference = Buffer.alloc(10);
    writeInt64BE(ours, value, 2);
    reference.writeBigInt64BE(BigInt(value), 2);
    expect(ours.toString('hex')).toBe(reference.toString('hex'));
    expect(readInt64BE(reference, 2)).toBe(value);
  });
});

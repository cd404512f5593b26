/**
 * 64-bit big-endian integers (window bounds, timestamps) for values within
 * ±2^53, without the BigInt that `Buffer#writeBigInt64BE` allocates per call:
 * the same bytes, two's complement, written as two 32-bit halves.
 */
const TWO_32 = 2 ** 32;

export function writeInt64BE(buffer: Buffer, value: number, offset: number): void {
  const high = Math.floor(value / TWO_32);
  buffer.writeInt32BE(high, offset);
  buffer.writeUInt32BE(value - high * TWO_32, offset + 4);
}

export function readInt64BE(buffer: Buffer, offset: number): number {
  return buffer.readInt32BE(offset) * TWO_32 + buffer.readUInt32BE(offset + 4);
}

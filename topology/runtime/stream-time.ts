/**
 * A task's stream time travels with its committed offsets, as Kafka Streams
 * keeps partition time in the offset's commit metadata: base64 of a version
 * byte (1) and the time as a big-endian 64-bit integer. Kafka Streams reads
 * the same bytes, so a partition handed between the two keeps its clock.
 */
const VERSION = 1;

export function encodeStreamTime(timeMs: number): string {
  const bytes = Buffer.alloc(9);
  bytes.writeUInt8(VERSION, 0);
  bytes.writeBigInt64BE(BigInt(Math.trunc(timeMs)), 1);
  return bytes.toString('base64');
}

/** The time in commit metadata, or undefined for metadata that holds none (empty, another writer's, a newer version). */
export function decodeStreamTime(metadata: string | undefined): number | undefined {
  if (metadata === undefined || metadata === '') return undefined;
  const bytes = Buffer.from(metadata, 'base64');
  if (bytes.length < 9 || bytes.readUInt8(0) < VERSION) return undefined;
  const time = Number(bytes.readBigInt64BE(1));
  return Number.isSafeInteger(time) && time >= 0 ? time : undefined;
}

/**
 * Kafka's default partitioner for keyed records: murmur2 of the key bytes,
 * made positive, modulo the partition count. Byte-for-byte the Java client's
 * `Utils.murmur2`, so that records keyed here land where a Java producer or
 * Kafka Streams would put them. Both transports use it.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // the tail bytes fold in from the highest, as the Java switch falls through
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition for a key. A null key has no home partition: records without a
 * key spread round-robin, as the Java client's sticky partitioner would.
 */
export function partitionForKey(key: Buffer | null, partitions: number, roundRobin: () => number): number {
  if (key === null) return roundRobin() % partitions;
  return (murmur2(key) & 0x7fffffff) % partitions;
}

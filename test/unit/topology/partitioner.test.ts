import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../../topology/index.js';

describe('murmur2 (Kafka default partitioner)', () => {
  // expected values from Kafka's own UtilsTest#testMurmur2
  const cases: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  it.each(cases)('murmur2(%s) = %d, as the Java client computes it', (input, expected) => {
    expect(murmur2(Buffer.from(input))).toBe(expected);
  });

  it('places a key on (murmur2 & 0x7fffffff) % partitions', () => {
    const key = Buffer.from('acme/u1');
    expect(partitionForKey(key, 3, () => 0)).toBe((murmur2(key) & 0x7fffffff) % 3);
  });

  it('spreads null keys round-robin', () => {
    let n = 0;
    const next = () => n++;
    expect([0, 1, 2, 3].map(() => partitionForKey(null, 3, next))).toEqual([0, 1, 2, 0]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { SampleTraffic } from '../../../cli/sample-traffic.js';
import { partitionForKey } from '../../../topology/index.js';

const EVENTS = 1_000_000;
const PARTITIONS = 3;
const TENTHS = 10;

/**
 * Counts per key, per partition and distinct keys per tenth of the stream, for
 * `n` events of a generator. Streams the events (1M events are not kept).
 */
function keyDistribution(traffic: SampleTraffic, n: number) {
  const perKey = new Map<string, number>();
  const perPartition = new Array<number>(PARTITIONS).fill(0);
  const partitionOf = new Map<string, number>();
  const keysPerTenth: Array<Set<string>> = Array.from({ length: TENTHS }, () => new Set());
  for (let i = 0; i < n; i++) {
    const key = traffic.key(traffic.next());
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    let partition = partitionOf.get(key);
    if (partition === undefined) {
      partition = partitionForKey(Buffer.from(key), PARTITIONS, () => 0);
      partitionOf.set(key, partition);
    }
    perPartition[partition]! += 1;
    keysPerTenth[Math.floor((i * TENTHS) / n)]!.add(key);
  }
  return { perKey, perPartition, keysPerTenth };
}

describe('sample traffic keys over a long run', () => {
  // what `veroai produce --sample 1000000` writes: seed 7, 4 tenants of 50 users, 200 events/s of event time
  const users = 4 * 50;
  let perKey: Map<string, number>;
  let perPartition: number[];
  let keysPerTenth: Array<Set<string>>;
  beforeAll(() => {
    ({ perKey, perPartition, keysPerTenth } = keyDistribution(
      new SampleTraffic({ seed: 7, tenants: 4, usersPerTenant: 50, startTime: Date.UTC(2026, 0, 1) }),
      EVENTS,
    ));
  });

  // 1M events are 83 minutes of event time: a user has between none and four bursts of activity
  // in that time, so shares vary by a few times the mean (they used to pile up on one user: 99%)
  it('puts no user above five times the mean share', () => {
    const mean = EVENTS / users;
    const [busiest, count] = [...perKey].sort((a, b) => b[1] - a[1])[0]!;
    expect(count, `${busiest} has ${count} of ${EVENTS} events; the mean is ${mean}`).toBeLessThanOrEqual(
      5 * mean,
    );
    // a user may sit out the whole 83 minutes in one long gap; nearly all do not
    expect(perKey.size).toBeGreaterThanOrEqual(0.95 * users);
  });

  // the 200 keys themselves hash 79 / 65 / 56 to the partitions: event shares follow the key shares
  it('spreads events over the 3 partitions, each within 1/3 ± 0.08 and within 0.03 of its share of the keys', () => {
    const keysOn = new Array<number>(PARTITIONS).fill(0);
    for (const key of perKey.keys()) keysOn[partitionForKey(Buffer.from(key), PARTITIONS, () => 0)]! += 1;
    for (const [partition, count] of perPartition.entries()) {
      const share = count / EVENTS;
      const where = `partition ${partition} has ${count} of ${EVENTS} events (${perPartition.join(', ')}) and ${keysOn[partition]} of ${perKey.size} keys`;
      expect(Math.abs(share - 1 / 3), where).toBeLessThanOrEqual(0.08);
      expect(Math.abs(share - keysOn[partition]! / perKey.size), where).toBeLessThanOrEqual(0.03);
    }
  });

  // a tenth is 8 minutes of event time: the ~15% of users active at once, plus those who start a burst
  it('has at least a fifth of the users active in every tenth of the stream', () => {
    const distinct = keysPerTenth.map((keys) => keys.size);
    expect(Math.min(...distinct), `distinct users per tenth: ${distinct.join(', ')}`).toBeGreaterThanOrEqual(
      users / 5,
    );
  });
});

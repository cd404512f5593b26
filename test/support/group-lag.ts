import type { KafkaTransport } from '../../topology/index.js';

/**
 * True when the consumer group has committed, on every partition of every
 * topic, the topic's end offset: it has processed all there is. The condition
 * tests wait on instead of a record count (duplicates make counts lie under
 * at_least_once).
 */
export async function groupCaughtUp(
  transport: KafkaTransport,
  groupId: string,
  topics: readonly string[],
): Promise<boolean> {
  for (const topic of topics) {
    const [ends, committed] = await Promise.all([
      transport.endOffsets(topic),
      transport.committedOffsets(groupId, topic),
    ]);
    if (!ends.every((end, p) => end === 0 || (committed[p] ?? 0) >= end)) return false;
  }
  return true;
}

/** Every record of a topic up to its end offsets now, partition by partition, in offset order. */
export async function readToEnd(
  transport: KafkaTransport,
  topic: string,
): Promise<Map<number, Array<{ key: Buffer | null; value: Buffer | null; offset: number }>>> {
  const ends = await transport.endOffsets(topic);
  const out = new Map<number, Array<{ key: Buffer | null; value: Buffer | null; offset: number }>>();
  for (let p = 0; p < ends.length; p++) out.set(p, []);
  for await (const batch of transport.readPartitions(topic, new Map(ends.map((_, p) => [p, 0])))) {
    for (const r of batch) out.get(r.partition)!.push({ key: r.key, value: r.value, offset: r.offset });
  }
  return out;
}

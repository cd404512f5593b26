import type { MemoryTransport, Serde } from '../../topology/index.js';

export interface MemoryTopicRecord<V> {
  readonly partition: number;
  readonly key: string;
  readonly value: V;
  readonly timestamp: number;
}

/** Every record of `topic` (partitions 0 to `partitions` - 1) on a memory transport, values decoded. */
export async function readMemoryTopic<V>(
  transport: MemoryTransport,
  topic: string,
  partitions: number,
  serde: Serde<V>,
): Promise<Array<MemoryTopicRecord<V>>> {
  const read: Array<MemoryTopicRecord<V>> = [];
  const from = new Map(Array.from({ length: partitions }, (_, p) => [p, 0] as [number, number]));
  for await (const batch of transport.readPartitions(topic, from))
    for (const r of batch)
      read.push({
        partition: r.partition,
        key: r.key!.toString(),
        value: (await serde.deserialize(r.value, topic)) as V,
        timestamp: r.timestamp,
      });
  return read;
}

/**
 * The Kafka transport's partition reader, which restores state: several
 * partitions of one topic read together, each from its own offset up to the
 * end seen when the read starts, nothing from the partitions not asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import type { SourceRecord } from '../../topology/record.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { produce } from '../support/kafka-io.js';

let brokers: string[];
let transport: KafkaTransport;

beforeAll(async () => {
  brokers = await ensureKafka();
  transport = new KafkaTransport({ brokers, clientId: 'veroai-test-reads' });
});

afterAll(async () => {
  await transport.close();
});

async function readAll(iterable: AsyncIterable<SourceRecord[]>) {
  const batches: SourceRecord[][] = [];
  for await (const batch of iterable) batches.push(batch);
  return batches;
}

describe('KafkaTransport.readPartitions', () => {
  it('reads the partitions asked for, each from its offset to the end at the start, in offset order', async () => {
    const topic = uniqueName('reads');
    await createTopic(brokers, topic, 3);
    const perPartition = 2_500;
    await produce(
      brokers,
      topic,
      [0, 1, 2].flatMap((partition) =>
        Array.from({ length: perPartition }, (_, i) => ({
          key: `k${i}`,
          value: `${partition}:${i}`,
          partition,
        })),
      ),
    );

    const reading = transport.readPartitions(
      topic,
      new Map([
        [0, 100],
        [2, 2_000],
      ]),
    );
    const iterator = reading[Symbol.asyncIterator]();
    const first = await iterator.next();
    // written after the read started: beyond the end offsets it reads to
    await produce(brokers, topic, [
      { key: 'late', value: '0:late', partition: 0 },
      { key: 'late', value: '2:late', partition: 2 },
    ]);
    const batches = [first.value as SourceRecord[]];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) batches.push(next.value);

    for (const batch of batches) expect(new Set(batch.map((r) => r.partition)).size).toBe(1);
    const records = batches.flat();
    const values = (partition: number) =>
      records.filter((r) => r.partition === partition).map((r) => r.value?.toString());
    expect(values(0)).toEqual(Array.from({ length: perPartition - 100 }, (_, i) => `0:${i + 100}`));
    expect(values(2)).toEqual(Array.from({ length: perPartition - 2_000 }, (_, i) => `2:${i + 2_000}`));
    expect(values(1)).toEqual([]);
    expect(records.filter((r) => r.partition === 0).map((r) => r.offset)).toEqual(
      Array.from({ length: perPartition - 100 }, (_, i) => i + 100),
    );
  });

  it('reads nothing when every partition is already at its end', async () => {
    const topic = uniqueName('reads-empty');
    await createTopic(brokers, topic, 2);
    await produce(brokers, topic, [{ key: 'a', value: 'x', partition: 1 }]);
    expect(
      await readAll(
        transport.readPartitions(
          topic,
          new Map([
            [0, 0],
            [1, 1],
          ]),
        ),
      ),
    ).toEqual([]);
  });
});

/**
 * The raw-client limit of the benches that measure a topology against it: a
 * plain kafkajs group consumer, with the engine's fetch settings, reading a
 * topic from its start and doing nothing with the records.
 */
import type { Kafka } from 'kafkajs';
import { uniqueName } from '../deploy/kafka/local-broker.js';

/** The raw-client limit: a plain kafkajs group consumer reading the input; seconds from connect to the last record. */
export async function rawConsume(kafka: Kafka, topic: string, records: number): Promise<number> {
  const consumer = kafka.consumer({
    groupId: uniqueName('bench-raw-consumer'),
    // the engine's fetch settings (kafka transport)
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 4 * 1024 * 1024,
    maxWaitTimeInMs: 100,
  });
  const started = performance.now();
  let consumed = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      consumed += batch.messages.length;
      if (consumed >= records) finished();
    },
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  return seconds;
}

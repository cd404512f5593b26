import { Kafka, logLevel } from 'kafkajs';

/** A record as the tests see a topic: the key as text, the value as bytes, headers as text. */
export interface ReadRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  /** The key's bytes, for keys that are not text (e.g. windowed keys). */
  readonly rawKey: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: Record<string, string>;
}

const clients = new Map<string, Kafka>();

function client(brokers: readonly string[]): Kafka {
  const id = brokers.join(',');
  let kafka = clients.get(id);
  if (kafka === undefined) {
    kafka = new Kafka({ clientId: 'veroai-test', brokers: [...brokers], logLevel: logLevel.NOTHING });
    clients.set(id, kafka);
  }
  return kafka;
}

/** Writes records with kafkajs' default (murmur2) partitioner unless a partition is given. */
export async function produce(
  brokers: readonly string[],
  topic: string,
  records: ReadonlyArray<{
    key: string | null;
    value: Buffer | string | null;
    partition?: number;
    timestamp?: number;
  }>,
): Promise<void> {
  const producer = client(brokers).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 5_000) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + 5_000).map((r) => ({
          key: r.key,
          value: r.value,
          ...(r.partition === undefined ? {} : { partition: r.partition }),
          ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Reads a topic from the beginning until at least `atLeast` records arrived
 * and none came for `quietMs`; fails after `timeoutMs` saying how many it saw.
 */
export async function readTopic(
  brokers: readonly string[],
  topic: string,
  options: { atLeast: number; timeoutMs?: number; quietMs?: number },
): Promise<ReadRecord[]> {
  const groupId = `veroai-test-reader-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const consumer = client(brokers).consumer({ groupId, maxWaitTimeInMs: 100 });
  const out: ReadRecord[] = [];
  let lastArrival = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(v);
          out.push({
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key === null ? null : m.key.toString('utf8'),
            rawKey: m.key,
            value: m.value,
            timestamp: Number(m.timestamp),
            headers,
          });
        }
        lastArrival = Date.now();
      },
    });
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const quiet = options.quietMs ?? 500;
    while (!(out.length >= options.atLeast && Date.now() - lastArrival >= quiet)) {
      if (Date.now() > deadline)
        throw new Error(
          `readTopic(${topic}): expected at least ${options.atLeast} records, saw ${out.length}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/** Polls until `check` holds; fails naming `what` after the timeout. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

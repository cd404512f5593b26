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

/**
 * Writes records with kafkajs' default (murmur2) partitioner unless a partition is given.
 * Idempotent: a send kafkajs retries (a timeout on a loaded machine) is written once, not twice.
 */
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
  const producer = client(brokers).producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
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
 * Reads a topic from the beginning. With `atLeast`: until that many records
 * arrived and none came for `quietMs`. With `toEnd`: until every partition is
 * read up to its end offset when the read starts (transaction markers
 * included), which is all a topic holds once its writers are done, however
 * many records that is. Fails after `timeoutMs` saying how far it got.
 */
export async function readTopic(
  brokers: readonly string[],
  topic: string,
  options: { atLeast: number; timeoutMs?: number; quietMs?: number } | { toEnd: true; timeoutMs?: number },
): Promise<ReadRecord[]> {
  const groupId = `veroai-test-reader-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const consumer = client(brokers).consumer({ groupId, maxWaitTimeInMs: 100 });
  const out: ReadRecord[] = [];
  let lastArrival = Date.now();
  const ends = 'toEnd' in options ? await endOffsets(brokers, topic) : [];
  /** The next offset to read per partition: past the last record or transaction marker fetched. */
  const positions = ends.map(() => 0);
  await consumer.connect();
  try {
    // a batch of only transaction markers or aborted records reaches no eachBatch, but ends a batch
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const next = Number(payload.lastOffset) + 1;
      if (next > (positions[payload.partition] ?? 0)) positions[payload.partition] = next;
    });
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
    const done =
      'toEnd' in options
        ? () => ends.every((end, p) => (positions[p] ?? 0) >= end)
        : () => out.length >= options.atLeast && Date.now() - lastArrival >= (options.quietMs ?? 500);
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(
          'toEnd' in options
            ? `readTopic(${topic}): not read to its end offsets [${ends.join(', ')}]: reached [${positions.join(', ')}] (${out.length} records)`
            : `readTopic(${topic}): expected at least ${options.atLeast} records, saw ${out.length}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Asks again while the broker answers a retriable error, for up to 30 s: a
 * topic created a moment ago may not have its leaders yet ("not the leader
 * for that topic-partition").
 */
async function whileRetriable<T>(ask: () => Promise<T>): Promise<T> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      if ((error as { retriable?: boolean }).retriable !== true || Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The end offset (last stable offset: kafkajs lists offsets read_committed) of each partition of a topic. */
export async function endOffsets(brokers: readonly string[], topic: string): Promise<number[]> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const out: number[] = [];
    for (const p of await whileRetriable(() => admin.fetchTopicOffsets(topic)))
      out[p.partition] = Number(p.high);
    return out;
  } finally {
    await admin.disconnect();
  }
}

/**
 * A consumer group's committed offset and the end offset of each partition of
 * a topic (committed is -1 where the group committed nothing).
 */
export async function groupProgress(
  brokers: readonly string[],
  groupId: string,
  topic: string,
): Promise<Array<{ partition: number; committed: number; end: number }>> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const [ends, [committed]] = await whileRetriable(() =>
      Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]),
    );
    const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return ends
      .map((e) => ({
        partition: e.partition,
        committed: byPartition.get(e.partition) ?? -1,
        end: Number(e.high),
      }))
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until a consumer group has committed, on every partition of the
 * topics, the partition's end offset (its lag is 0): whatever it writes for
 * that input is written. The condition to wait on instead of an output record
 * count (duplicates make counts lie under at_least_once) or a sleep. For
 * input written without transactions: a transaction's commit marker sits
 * after the last record a group can commit.
 */
export async function untilCaughtUp(
  brokers: readonly string[],
  groupId: string,
  topics: readonly string[],
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const behind: string[] = [];
    for (const topic of topics)
      for (const p of await groupProgress(brokers, groupId, topic))
        if (p.end > 0 && p.committed < p.end)
          behind.push(`${topic}:${p.partition} at ${p.committed} of ${p.end}`);
    if (behind.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`group ${groupId} did not catch up in ${timeoutMs} ms: ${behind.join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
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

/** Starts a consumer group at the topics' current ends: an application in it reads only what a test writes next. */
export async function startGroupAtEnd(
  brokers: readonly string[],
  groupId: string,
  topics: readonly string[],
): Promise<void> {
  const admin = new Kafka({
    clientId: 'test-group-start',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const ends = await endOffsets(brokers, topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map((end, partition) => ({ partition, offset: String(end) })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}

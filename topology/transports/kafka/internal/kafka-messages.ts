/**
 * The engine's records, offsets and partitions in the shapes kafkajs takes
 * them (grouped by topic), and kafkajs' fetched messages as source records.
 */
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { Headers, OutgoingRecord, SourceRecord, TopicPartition } from '../../../record.js';
import type { CommitOffset } from '../../transport.js';

/** A committed offset as kafkajs takes it within its topic. */
export interface KafkaPartitionOffset {
  partition: number;
  offset: string;
  metadata?: string;
}

/** A fetched message of a partition, as the engine reads it. */
export function toSourceRecord(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    timestamp: Number(m.timestamp),
    headers: toHeaders(m.headers),
  };
}

const NO_HEADERS: Headers = Object.freeze({}) as Headers;

function toHeaders(headers: IHeaders | undefined): Headers {
  if (headers === undefined) return NO_HEADERS;
  let out: Headers | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    out ??= {};
    out[name] = first;
  }
  return out ?? NO_HEADERS;
}

export function kafkaOffset(o: CommitOffset): KafkaPartitionOffset {
  return {
    partition: o.partition,
    offset: String(o.offset),
    ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
  };
}

/** Records as kafkajs' `topicMessages`, each message to its chosen partition. */
export function topicMessages(
  records: readonly OutgoingRecord[],
): Array<{ topic: string; messages: Message[] }> {
  return byTopic(records, (r) => ({
    key: r.key,
    value: r.value,
    partition: r.partition,
    timestamp: String(r.timestamp),
    headers: r.headers,
  })).map(([topic, messages]) => ({ topic, messages }));
}

/** Offsets as a transaction's `sendOffsets` takes them. */
export function topicOffsets(
  offsets: readonly CommitOffset[],
): Array<{ topic: string; partitions: KafkaPartitionOffset[] }> {
  return byTopic(offsets, kafkaOffset).map(([topic, partitions]) => ({ topic, partitions }));
}

/** Partitions as the consumer's pause and resume take them. */
export function topicPartitions(
  partitions: readonly TopicPartition[],
): Array<{ topic: string; partitions: number[] }> {
  return byTopic(partitions, (tp) => tp.partition).map(([topic, ps]) => ({ topic, partitions: ps }));
}

/** `value` of each item, grouped by the item's topic, topics in the order they first appear. */
function byTopic<T extends { readonly topic: string }, V>(
  items: readonly T[],
  value: (item: T) => V,
): Array<[string, V[]]> {
  const groups = new Map<string, V[]>();
  for (const item of items) {
    let group = groups.get(item.topic);
    if (group === undefined) {
      group = [];
      groups.set(item.topic, group);
    }
    group.push(value(item));
  }
  return [...groups];
}

/** Header values as they travel on the wire. */
export type Headers = Record<string, string | Buffer>;

/**
 * Where a record entered the engine: the raw bytes as read from a source topic.
 * Kept on every derived record so that a failure anywhere downstream can send
 * the original bytes to the dead-letter topic.
 */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: Headers;
}

/**
 * A record as processors see it: a typed key and value plus its coordinates.
 * `topic`, `partition` and `offset` are those of the source record it derives
 * from (as in Kafka Streams' ProcessorContext). When you derive a record in a
 * custom processor, spread the input (`{ ...record, value }`) so `origin` stays.
 */
export interface StreamRecord<K, V> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: K;
  readonly value: V;
  /** Event time in epoch milliseconds. */
  readonly timestamp: number;
  readonly headers: Headers;
  readonly origin?: SourceRecord;
}

/** A record on its way out: bytes, its destination partition already chosen. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers?: Headers;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export const tpKey = (topic: string, partition: number): string => `${topic}:${partition}`;

import { DeserializationError, errorCodes } from '../errors.js';
import { readInt64BE, writeInt64BE } from '../serdes/int64.js';
import type { Serde } from '../serdes/serde.js';

/**
 * An aggregate with the highest event time of the records in it, as Kafka
 * Streams' `ValueAndTimestamp`. Sliding windows need it: which windows a
 * record creates depends on the latest record each existing window holds.
 */
export interface TimestampedAggregate<VA> {
  readonly aggregate: VA;
  readonly timestamp: number;
}

/**
 * Stores a timestamped aggregate as the 8-byte big-endian timestamp followed
 * by the aggregate's bytes (Kafka Streams lays out timestamped store values
 * the same way). An aggregate that serialises to null keeps only the timestamp.
 */
export function timestampedSerde<VA>(inner: Serde<VA>): Serde<TimestampedAggregate<VA>> {
  return {
    name: `timestamped(${inner.name})`,
    prepare: inner.prepare === undefined ? undefined : (topic) => inner.prepare!(topic),
    serialize(value, topic) {
      const body = inner.serialize(value.aggregate, topic) ?? Buffer.alloc(0);
      const out = Buffer.allocUnsafe(body.length + 8);
      writeInt64BE(out, value.timestamp, 0);
      body.copy(out, 8);
      return out;
    },
    deserialize(data, topic) {
      if (data === null || data.length < 8) {
        throw new DeserializationError(
          errorCodes.decodeTruncated,
          `topic '${topic}': a timestamped aggregate needs at least 8 bytes, got ${data?.length ?? 'null'}`,
        );
      }
      const timestamp = readInt64BE(data, 0);
      const aggregate = inner.deserialize(data.length === 8 ? null : data.subarray(8), topic);
      if (aggregate instanceof Promise) return aggregate.then((a) => ({ aggregate: a, timestamp }));
      return { aggregate, timestamp };
    },
  };
}

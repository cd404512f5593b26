import { DeserializationError } from '../../errors.js';
import { isPromise } from '../../promises.js';
import type { SourceRecord, StreamRecord } from '../../record.js';
import type { Serde } from '../../serdes/serde.js';

type AnyRecord = StreamRecord<unknown, unknown>;

/** How a source topic's records are read: its serdes and its event-time extractor. */
export interface SourceFormat {
  readonly key: Serde<unknown>;
  readonly value: Serde<unknown>;
  readonly extract: ((r: AnyRecord) => number) | undefined;
}

/**
 * Decodes a source record; a promise only when a serde is asynchronous (a
 * schema to fetch). Throws a DeserializationError (dead-lettered by the task)
 * for bytes that do not decode or an event time that is not a time.
 */
export function decodeRecord(raw: SourceRecord, format: SourceFormat): AnyRecord | Promise<AnyRecord> {
  const k = format.key.deserialize(raw.key, raw.topic);
  const v = format.value.deserialize(raw.value, raw.topic);
  if (isPromise(k) || isPromise(v))
    return Promise.all([k, v]).then(([key, value]) => decoded(raw, format, key, value));
  return decoded(raw, format, k, v);
}

function decoded(raw: SourceRecord, format: SourceFormat, key: unknown, value: unknown): AnyRecord {
  const record: AnyRecord = {
    topic: raw.topic,
    partition: raw.partition,
    offset: raw.offset,
    key,
    value,
    timestamp: raw.timestamp,
    headers: raw.headers,
    origin: raw,
  };
  if (format.extract === undefined) return record;
  const timestamp = format.extract(record);
  if (!Number.isFinite(timestamp) || timestamp < 0) {
    throw new DeserializationError(
      'VEROAI_ERR_DECODE_INVALID',
      `topic '${raw.topic}': the timestamp extractor returned ${timestamp}, not an epoch-millisecond time`,
    );
  }
  return { ...record, timestamp };
}

import { isPromise } from '../../promises.js';
import type { SourceRecord, StreamRecord } from '../../record.js';
import type { KeptBytes } from '../batch-graph.js';
import type { SourceFormat } from './record-decoder.js';

type AnyRecord = StreamRecord<unknown, unknown>;

/** A record a repartition in place kept in its task during a batch's first pass. */
export interface KeptRecord {
  /** The input record it derives from: the second pass takes it up there. */
  readonly input: SourceRecord | undefined;
  /** The source node that reads the repartition topic back. */
  readonly source: string;
  readonly record: AnyRecord;
  /** What it would have crossed the topic as (no value bytes when the repartition shares values). */
  readonly bytes: KeptBytes;
}

/**
 * The records a task's repartitions in place keep during the first pass of a
 * batch (see StreamTask), and how one becomes the record its source node
 * reads: decoded from the bytes it would have crossed the topic as, so that a
 * kept record and one that crossed give processors the same values, with the
 * coordinates and origin of the input record it derives from (its
 * dead-letter record, and the position a replay recognises).
 */
export class InPlaceRecords {
  private kept: KeptRecord[] | undefined;

  constructor(
    /** The formats of the task's sources, by source node name. */
    private readonly formats: ReadonlyMap<string, SourceFormat>,
  ) {}

  /** A batch's first pass begins: records kept from now on wait for `take`. */
  collect(): void {
    this.kept = [];
  }

  /** Keeps `record` during a first pass and returns true; false outside one (the caller passes it on at once). */
  keep(record: KeptRecord): boolean {
    if (this.kept === undefined) return false;
    this.kept.push(record);
    return true;
  }

  /** The records kept since `collect`, in the order they were kept; collecting stops. */
  take(): KeptRecord[] {
    const kept = this.kept ?? [];
    this.kept = undefined;
    return kept;
  }

  /**
   * The record source `kept.source` reads; throws (or rejects) as that
   * source's deserialisers do. A repartition that shares values hands the
   * key and value on as they are.
   */
  decode(kept: KeptRecord): AnyRecord | Promise<AnyRecord> {
    const format = this.formats.get(kept.source)!;
    const { bytes, record } = kept;
    const shared = bytes.value === undefined;
    const k = shared ? record.key : format.key.deserialize(bytes.key, bytes.topic);
    const v = shared ? record.value : format.value.deserialize(bytes.value ?? null, bytes.topic);
    if (isPromise(k) || isPromise(v))
      return Promise.all([k, v]).then(([key, value]) => readBack(kept, key, value));
    return readBack(kept, k, v);
  }
}

/** A kept record with the key and value its source reads, at the place of the input record it derives from. */
function readBack({ record, bytes }: KeptRecord, key: unknown, value: unknown): AnyRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key,
    value,
    timestamp: bytes.timestamp,
    headers: record.headers,
    origin: record.origin,
  };
}

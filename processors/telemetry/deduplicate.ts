import type { TelemetryEvent } from '../../schemas/index.js';
import {
  type KeyValueStore,
  type ProcessorContext,
  type ProcessorSupplier,
  type RecordProcessor,
  readStored,
  type StreamRecord,
  TimeIndex,
} from '../../topology/index.js';

/** How often (in stream time) ids older than the window are forgotten. */
const EXPIRY_INTERVAL_MS = 60_000;

/** What the id store keeps per event id: when it was seen, and which input record claimed it. */
export interface SeenEvent {
  /** Event time of the first copy. */
  readonly t: number;
  /** `topic:partition:offset` of the record that claimed the id. */
  readonly at: string;
}

type Events = StreamRecord<string, TelemetryEvent>;

/**
 * Drops an event whose `eventId` (per tenant) was already seen with an event
 * time less than `windowMs` away. Must run where all copies of an event meet:
 * after keying by `tenantId/userId` (copies of an event share tenant and user).
 *
 * Two changelogged stores: `storeName` maps `tenantId/eventId` to the event
 * time and input position of the record that claimed it; `<storeName>-by-time`
 * indexes the ids by event time (`<time, 16 digits>|<id>`), so a stream-time
 * punctuator forgets old ids with a range scan of the store instead of an
 * index in the heap, and the stores hold about one window of ids.
 *
 * At-least-once replays: after a crash the id store may be restored ahead of
 * the committed input (its changelog landed, a downstream store's did not).
 * A replayed record is then the very record that claimed its id (same
 * position): it is processed again, not dropped as a duplicate of itself,
 * so a replay never loses an event. A copy (another record) is dropped.
 *
 * @example builder.addStateStore('event-ids', …); builder.addStateStore('event-ids-by-time', …);
 *   stream.process(deduplicateEvents('event-ids', 3_600_000), { stores: ['event-ids', 'event-ids-by-time'], keyPreserving: true })
 */
export function deduplicateEvents(
  storeName: string,
  windowMs: number,
): ProcessorSupplier<string, TelemetryEvent, string, TelemetryEvent> {
  return (context) => new Deduplicator(context, storeName, windowMs);
}

/** The store of the id index by event time that deduplicateEvents(storeName) needs beside its own. */
export const byTimeStoreOf = (storeName: string): string => `${storeName}-by-time`;

class Deduplicator implements RecordProcessor<string, TelemetryEvent> {
  private readonly seen: KeyValueStore<string, SeenEvent | number>;
  private readonly byTime: TimeIndex;

  constructor(
    private readonly context: ProcessorContext,
    storeName: string,
    private readonly windowMs: number,
  ) {
    this.seen = context.getStateStore(storeName);
    this.byTime = new TimeIndex(context.getStateStore(byTimeStoreOf(storeName)));
    context.schedule(EXPIRY_INTERVAL_MS, 'stream-time', (streamTime) =>
      this.forgetBefore(streamTime - windowMs),
    );
  }

  /** The batch's ids, read in one go (a RocksDB store): `process` then decides each record without I/O. */
  readAhead(records: readonly Events[]): Promise<void> | undefined {
    return this.seen.prefetch?.(records.map(idOf));
  }

  process(record: Events): void | Promise<void> {
    const id = idOf(record);
    return readStored(this.seen, id, (previous) => this.decide(record, id, previous));
  }

  /** Forwards the record unless `previous` says its id was seen within the window (a replay is not a copy). */
  private decide(record: Events, id: string, previous: SeenEvent | number | undefined): void {
    const at = positionOf(record);
    if (previous !== undefined) {
      // stores written before positions were kept hold the bare event time
      const claimed = typeof previous === 'number' ? { t: previous, at: '' } : previous;
      const replay = at !== '' && claimed.at === at;
      if (!replay && Math.abs(record.timestamp - claimed.t) < this.windowMs) return;
      if (replay) {
        this.context.forward(record);
        return;
      }
      this.byTime.remove(claimed.t, id);
    }
    this.seen.put(id, { t: record.timestamp, at });
    this.byTime.add(record.timestamp, id);
    this.context.forward(record);
  }

  /** Deletes the ids seen before `cutoff`, reading only the index entries before it. */
  private async forgetBefore(cutoff: number): Promise<void> {
    await this.byTime.expire(this.seen, cutoff, (seen) => (typeof seen === 'number' ? seen : seen.t));
  }
}

/** The id the store keeps an event under: unique per tenant. */
function idOf(record: Events): string {
  return `${record.value.tenantId}/${record.value.eventId}`;
}

/** The input record's place in its log: equal for a record and its replay, different for a copy. */
function positionOf(record: Events): string {
  const origin = record.origin;
  return origin === undefined ? '' : `${origin.topic}:${origin.partition}:${origin.offset}`;
}

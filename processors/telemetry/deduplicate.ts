import { concatMap, filter } from 'rxjs';
import type { TelemetryEvent } from '../../schemas/index.js';
import {
  type KeyValueStore,
  type ProcessorSupplier,
  RecordFailure,
  type StreamRecord,
} from '../../topology/index.js';
import { ExpiryIndex } from '../expiry-index.js';

/** How often (in stream time) ids older than the window are forgotten. */
const EXPIRY_INTERVAL_MS = 60_000;

type Events = StreamRecord<string, TelemetryEvent>;

/**
 * Drops an event whose `eventId` (per tenant) was already seen with an event
 * time less than `windowMs` away. Stateful: the store `storeName` (changelogged)
 * maps `tenantId/eventId` to the event time it was seen at; a stream-time
 * punctuator forgets ids older than the window, so the store holds about one
 * window of ids. Must run where all copies of an event meet: after keying by
 * `tenantId/userId` (copies of an event share tenant and user).
 *
 * @example stream.process(deduplicateEvents('telemetry-event-ids', 3_600_000), { stores: ['telemetry-event-ids'], keyPreserving: true })
 */
export function deduplicateEvents(
  storeName: string,
  windowMs: number,
): ProcessorSupplier<string, TelemetryEvent, string, TelemetryEvent> {
  return (context) => {
    const seen = context.getStateStore<KeyValueStore<string, number>>(storeName);
    const expiry = new ExpiryIndex(seen);
    context.schedule(EXPIRY_INTERVAL_MS, 'stream-time', (streamTime) =>
      expiry.forgetBefore(streamTime - windowMs),
    );
    return (source) =>
      source.pipe(
        concatMap(async (record) => {
          try {
            const id = `${record.value.tenantId}/${record.value.eventId}`;
            const previous = await seen.get(id);
            if (previous !== undefined && Math.abs(record.timestamp - previous) < windowMs) return undefined;
            seen.put(id, record.timestamp);
            await expiry.add(id, record.timestamp);
            return record;
          } catch (error) {
            throw new RecordFailure(record as StreamRecord<unknown, unknown>, error);
          }
        }),
        filter((record): record is Events => record !== undefined),
      );
  };
}

import type { TelemetryEvent } from '../../schemas/index.js';
import {
  type KStream,
  type Serde,
  Serdes,
  type StreamRecord,
  type TopologyBuilder,
  TopologyError,
} from '../../topology/index.js';
import { byTimeStoreOf, deduplicateEvents, type SeenEvent } from './deduplicate.js';
import { normalizeTelemetryEvent } from './normalize.js';
import { userKeyOf } from './user-key.js';
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits, validateTelemetryEvent } from './validate.js';

export const RAW_EVENTS_TOPIC = 'raw_events';
/** The store of recently seen event ids, for de-duplication. */
export const EVENT_IDS_STORE = 'telemetry-event-ids';

export interface CleanTelemetryOptions {
  /** The topic of raw events. Default `raw_events`. */
  readonly topic?: string;
  readonly telemetrySerde: Serde<TelemetryEvent>;
  /** How far event time may be ahead of / behind the record's log timestamp. Default 5 minutes / 30 days. */
  readonly limits?: ValidationLimits;
  /** Copies of an event this close in event time are dropped. Default 1 hour. */
  readonly dedupWindowMs?: number;
}

/**
 * `raw_events` made fit for use: validated (invalid events go to the
 * dead-letter topic with the broken rule as the reason; event time is bounded
 * by the record's log timestamp, ids and paths by FIELD_LIMITS), normalised, keyed by
 * `tenantId/userId` (through the repartition topic `<app>-events-by-user-repartition`)
 * and de-duplicated by event id. Event time is the event's own timestamp.
 */
export function cleanTelemetry(
  builder: TopologyBuilder,
  options: CleanTelemetryOptions,
): KStream<string, TelemetryEvent> {
  const limits = options.limits ?? DEFAULT_VALIDATION_LIMITS;
  builder.addStateStore(EVENT_IDS_STORE, { key: Serdes.string, value: Serdes.json<SeenEvent | number>() });
  builder.addStateStore(byTimeStoreOf(EVENT_IDS_STORE), { key: Serdes.string, value: Serdes.string });
  return (
    builder
      .stream(options.topic ?? RAW_EVENTS_TOPIC, {
        key: Serdes.string,
        value: options.telemetrySerde,
        name: 'raw-events',
        timestamp: eventTime,
      })
      .mapValues((event, record) => validateTelemetryEvent(event, logTimestampOf(record), limits), {
        name: 'validate-event',
      })
      .mapValues(normalizeTelemetryEvent, { name: 'normalize-event', value: options.telemetrySerde })
      .selectKey(userKeyOf, { name: 'key-by-user', key: Serdes.string as Serde<string> })
      // raw events come keyed by user: nearly all stay in their task, handed on as the objects normalisation
      // made (clean events are what the serde reads back: test/unit/processors/clean-telemetry-values.test.ts)
      .repartition({ name: 'events-by-user', inPlace: true, shareValues: true })
      .process(deduplicateEvents(EVENT_IDS_STORE, options.dedupWindowMs ?? 3_600_000), {
        name: 'deduplicate-events',
        stores: [EVENT_IDS_STORE, byTimeStoreOf(EVENT_IDS_STORE)],
        keyPreserving: true,
        value: options.telemetrySerde,
      })
  );
}

/**
 * The timestamp the record was written to `raw_events` with (its `timestamp`
 * is now the event time): what event times are checked against, the same in a
 * replay as live. Set by the producer (CreateTime, which the broker can bound
 * with `message.timestamp.after.max.ms`) or by the broker (LogAppendTime).
 */
function logTimestampOf(record: StreamRecord<string | null, TelemetryEvent>): number {
  if (record.origin === undefined)
    throw new TopologyError(
      'validate-event received a record without its source record: it must read raw_events directly to know the log timestamp',
    );
  return record.origin.timestamp;
}

/**
 * Event time is the event's own timestamp; one that is not a time falls back to
 * the Kafka timestamp so that validation, not decoding, rejects it with a reason.
 */
function eventTime(record: StreamRecord<string | null, TelemetryEvent>): number {
  const t = record.value.timestamp;
  return Number.isFinite(t) && t >= 0 ? t : record.timestamp;
}

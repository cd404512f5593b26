import type { TelemetryEvent } from '../../schemas/index.js';
import {
  type Serde,
  Serdes,
  type StreamRecord,
  type Topology,
  TopologyBuilder,
} from '../../topology/index.js';
import { RAW_EVENTS_TOPIC } from './clean-telemetry.js';
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits, validateTelemetryEvent } from './validate.js';

export { RAW_EVENTS_TOPIC };
export const TENANT_EVENT_COUNTS_TOPIC = 'tenant_event_counts';

export interface TenantEventCountsOptions {
  readonly telemetrySerde: Serde<TelemetryEvent>;
  /** Wall clock for the validity window of event times. */
  readonly now?: () => number;
  readonly limits?: ValidationLimits;
}

/**
 * The sample topology, the main job until the first pipeline lands: validate
 * `raw_events` (invalid ones go to the dead-letter topic with the reason),
 * re-key by tenant (through a repartition topic) and count events per tenant
 * into `tenant_event_counts`.
 */
export function tenantEventCountsTopology(options: TenantEventCountsOptions): Topology {
  const now = options.now ?? Date.now;
  const limits = options.limits ?? DEFAULT_VALIDATION_LIMITS;
  const builder = new TopologyBuilder();
  builder
    .stream(RAW_EVENTS_TOPIC, {
      key: Serdes.string,
      value: options.telemetrySerde,
      name: 'raw-events',
      timestamp: eventTime,
    })
    .mapValues((event) => validateTelemetryEvent(event, now(), limits), {
      name: 'validate',
      value: options.telemetrySerde,
    })
    .selectKey((event) => event.tenantId, { name: 'key-by-tenant', key: Serdes.string })
    .groupByKey({ name: 'events-by-tenant' })
    .count({ name: 'events-per-tenant' })
    .toStream()
    .to(TENANT_EVENT_COUNTS_TOPIC, { name: 'tenant-event-counts', value: Serdes.number });
  return builder.build();
}

/** Event time is the event's own timestamp, not the time Kafka received it. */
const eventTime = (record: StreamRecord<string | null, TelemetryEvent>): number => record.value.timestamp;

import {
  RAW_EVENTS_TOPIC,
  TENANT_EVENT_COUNTS_TOPIC,
  tenantEventCountsTopology,
} from '../processors/telemetry/tenant-event-counts.js';
import { telemetryEventSerde } from '../schemas/index.js';
import type { Topology } from '../topology/index.js';
import type { AppConfig } from './config.js';

/** The topology `veroai run` and `veroai describe` work on, and the topics it reads and writes. */
export interface DefaultTopology {
  readonly topology: Topology;
  /** External topics with the partitions they get when the CLI creates them. */
  readonly topics: ReadonlyArray<{ name: string; partitions: number }>;
  readonly inputTopic: string;
}

export function defaultTopology(config: Pick<AppConfig, 'SCHEMA_REGISTRY_URL'>): DefaultTopology {
  const telemetrySerde = telemetryEventSerde(
    config.SCHEMA_REGISTRY_URL === undefined ? {} : { registryUrl: config.SCHEMA_REGISTRY_URL },
  );
  return {
    topology: tenantEventCountsTopology({ telemetrySerde }),
    topics: [
      { name: RAW_EVENTS_TOPIC, partitions: 3 },
      { name: TENANT_EVENT_COUNTS_TOPIC, partitions: 3 },
    ],
    inputTopic: RAW_EVENTS_TOPIC,
  };
}

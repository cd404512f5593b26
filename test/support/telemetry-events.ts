/** Telemetry events and the first pipeline as the unit tests build them. */
import { firstPipelineTopology } from '../../processors/first-pipeline.js';
import type { SinkRetryOptions } from '../../processors/write-batch-to-sink.js';
import {
  EMPTY_PAYLOAD,
  featureUpdateSerde,
  type TelemetryEvent,
  type TelemetryEventType,
  type TelemetryPayload,
  telemetryEventSerde,
  userSessionSerde,
} from '../../schemas/index.js';
import { MemoryFeatureSink, MemorySessionHistorySink } from '../../sinks/memory/memory-sinks.js';
import type { Topology } from '../../topology/index.js';

let sequence = 0;

/** A TelemetryEvent with the payload fields given (the rest empty) and a fresh id unless one is given. */
export function telemetryEvent(
  tenantId: string,
  userId: string | null,
  eventType: TelemetryEventType,
  timestamp: number,
  payload: Partial<TelemetryPayload> = {},
  eventId = `evt-${++sequence}`,
): TelemetryEvent {
  return {
    eventId,
    timestamp,
    tenantId,
    userId,
    eventType,
    payload: { ...EMPTY_PAYLOAD, ...payload },
    metadata: { source: 'test', version: '1' },
    deployment: null,
    clientIp: null,
    userAgent: null,
  };
}

/** acme/alice clicks on /home. */
export const click = (eventId: string, timestamp: number): TelemetryEvent =>
  telemetryEvent('acme', 'alice', 'click', timestamp, { page: '/home' }, eventId);

/** The first pipeline with the local-catalog serdes and in-memory sinks. */
export function memoryPipeline(sinkRetry?: SinkRetryOptions): {
  topology: Topology;
  features: MemoryFeatureSink;
  history: MemorySessionHistorySink;
} {
  const features = new MemoryFeatureSink();
  const history = new MemorySessionHistorySink();
  const { topology } = firstPipelineTopology({
    serdes: { telemetry: telemetryEventSerde(), session: userSessionSerde(), feature: featureUpdateSerde() },
    sinks: { features, sessionHistory: history },
    ...(sinkRetry === undefined ? {} : { sinkRetry }),
  });
  return { topology, features, history };
}

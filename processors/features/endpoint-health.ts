import type { DDSketch } from '@datadog/sketches-js';
import type { TelemetryEvent } from '../../schemas/index.js';
import type { FeatureViewDefinition } from './feature-view.js';
import {
  decodeSketch,
  type EncodedSketch,
  emptySketch,
  encodeSketch,
  mergedQuantiles,
} from './latency-sketch.js';
import { type Bucket, bucketAt, inWindow, LAST_5_MINUTES, ratio } from './rolling-buckets.js';

export const ENDPOINT_HEALTH_STORE = 'endpoint-health-features';

interface RequestBucket extends Bucket {
  requests: number;
  errors: number;
  latency: EncodedSketch;
}

export interface EndpointHealthState {
  latest: number;
  minutes: RequestBucket[];
}

/** The entity of an endpoint: `tenantId/METHOD path`, e.g. `acme/GET /v1/orders/:id`. */
export const endpointEntityOf = (event: TelemetryEvent): string =>
  `${event.tenantId}/${event.payload.method} ${event.payload.path}`;

/** API calls and errors: the events endpoint health is computed from. */
export const isApiEvent = (event: TelemetryEvent): boolean =>
  event.eventType === 'api_call' || event.eventType === 'api_error';

/**
 * What endpoint health needs of an API event, and all that crosses its
 * repartition topic (the endpoint is the key): a few bytes instead of the
 * whole event, encoded and decoded once per request on a hot path.
 */
export interface ApiCall {
  readonly error: boolean;
  readonly latencyMs: number;
}

export const apiCallOf = (event: TelemetryEvent): ApiCall => ({
  error: event.eventType === 'api_error',
  // validation guarantees a latency on every API event
  latencyMs: event.payload.latencyMs ?? 0,
});

/**
 * `endpoint_health` per `tenantId/METHOD path`, over the last 5 minutes (one-minute
 * buckets) as of the endpoint's latest request:
 * requests_5m, error_rate_5m (api_error / requests), latency_p50_ms,
 * latency_p95_ms, latency_p99_ms (per-minute DDSketches merged; within 1% of a
 * true sample's latency).
 */
export function endpointHealth(): FeatureViewDefinition<EndpointHealthState, ApiCall> {
  /** Sketches being added to in this batch, decoded once and encoded back when values are read. */
  const live = new Map<RequestBucket, DDSketch>();
  return {
    view: 'endpoint_health',
    storeName: ENDPOINT_HEALTH_STORE,
    initial: () => ({ latest: -1, minutes: [] }),
    add(state, call, time) {
      state.latest = Math.max(state.latest, time);
      const bucket = bucketAt(state.minutes, LAST_5_MINUTES, state.latest, time, (slot) => ({
        slot,
        requests: 0,
        errors: 0,
        latency: emptySketch(),
      }));
      if (bucket === undefined) return;
      bucket.requests += 1;
      if (call.error) bucket.errors += 1;
      let sketch = live.get(bucket);
      if (sketch === undefined) {
        sketch = decodeSketch(bucket.latency);
        live.set(bucket, sketch);
      }
      sketch.accept(call.latencyMs);
    },
    asOf: (state) => state.latest,
    values(state) {
      for (const bucket of state.minutes) {
        const sketch = live.get(bucket);
        if (sketch === undefined) continue;
        bucket.latency = encodeSketch(sketch);
        live.delete(bucket);
      }
      const minutes = inWindow(state.minutes, LAST_5_MINUTES, state.latest);
      const requests = minutes.reduce((n, b) => n + b.requests, 0);
      const errors = minutes.reduce((n, b) => n + b.errors, 0);
      const [p50, p95, p99] = mergedQuantiles(
        minutes.map((b) => b.latency),
        [0.5, 0.95, 0.99],
      );
      return {
        requests_5m: requests,
        error_rate_5m: ratio(errors, requests),
        latency_p50_ms: p50 ?? 0,
        latency_p95_ms: p95 ?? 0,
        latency_p99_ms: p99 ?? 0,
      };
    },
  };
}

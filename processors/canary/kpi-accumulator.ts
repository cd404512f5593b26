import type { KpiWindow, TelemetryEvent } from '../../schemas/index.js';
import { seededRandom } from '../seeded-random.js';
import { offerLatency } from './judge/latency-reservoir.js';
import { addToLatencyBins, type LatencyBins, LatencySketch } from './judge/latency-sketch.js';

/**
 * What a KPI window needs of one API event, and all that crosses the
 * repartition topic (the service build and track are the key).
 */
export interface KpiObservation {
  readonly error: boolean;
  readonly latencyMs: number;
}

/** Requests that failed: api_error events and api_call events answered 5xx. */
export const isFailedRequest = (event: TelemetryEvent): boolean =>
  event.eventType === 'api_error' || (event.payload.statusCode ?? 0) >= 500;

export const kpiObservationOf = (event: TelemetryEvent): KpiObservation => ({
  error: isFailedRequest(event),
  // validation guarantees a latency on every API event
  latencyMs: event.payload.latencyMs ?? 0,
});

/**
 * A KPI window being aggregated, as a plain JSON value for the window store:
 * counts, the latencies as sketch bins (DDSketch keys at 1% relative
 * accuracy: one logarithm and one increment per request, no sketch decoded
 * per record) and a bounded reservoir of raw latencies for the rank tests.
 */
export interface KpiAccumulator extends LatencyBins {
  requests: number;
  errors: number;
  /** Latencies offered to the reservoir. */
  seen: number;
  samples: number[];
}

/** Raw latencies kept per window for the rank tests (a uniform sample beyond that). */
export const DEFAULT_RESERVOIR_CAPACITY = 400;

export const emptyKpiAccumulator = (): KpiAccumulator => ({
  requests: 0,
  errors: 0,
  zeros: 0,
  bins: {},
  seen: 0,
  samples: [],
});

/**
 * Folds one request into the window, in place. The reservoir draws from a
 * generator seeded by the window's key and how many latencies it has seen,
 * so a replay of the same input keeps the same sample (exactly-once output
 * does not depend on luck).
 */
export function addToKpiWindow(
  acc: KpiAccumulator,
  observation: KpiObservation,
  seed: number,
  capacity = DEFAULT_RESERVOIR_CAPACITY,
): KpiAccumulator {
  acc.requests += 1;
  if (observation.error) acc.errors += 1;
  const latency = observation.latencyMs;
  addToLatencyBins(acc, latency);
  // a store-kept reservoir updated in place: no LatencyReservoir (and no copy of its samples) per request
  const seen = acc.seen;
  acc.seen = offerLatency(acc.samples, seen, capacity, latency, () => seededRandom(seed ^ seen)());
  return acc;
}

/** The window's latencies as a LatencySketch (each bin's count at its representative value). */
export function sketchOf(acc: KpiAccumulator): LatencySketch {
  return LatencySketch.fromBins(acc);
}

/** The closed window as the `kpi_windows` record. */
export function kpiWindowOf(
  build: Pick<KpiWindow, 'tenantId' | 'service' | 'version' | 'track'>,
  window: { start: number; end: number },
  acc: KpiAccumulator,
): KpiWindow {
  const sketch = sketchOf(acc);
  const quantile = (q: number) => (sketch.count === 0 ? null : sketch.quantile(q));
  return {
    ...build,
    windowStart: window.start,
    windowEnd: window.end,
    requests: acc.requests,
    errors: acc.errors,
    latencyP50Ms: quantile(0.5),
    latencyP90Ms: quantile(0.9),
    latencyP99Ms: quantile(0.99),
    latencySketch: Buffer.from(sketch.toBytes()),
    latencySamples: [...acc.samples],
    latencyCount: acc.seen,
  };
}

/** A 32-bit string hash (FNV-1a), to seed a window's reservoir from its key and start. */
export function seedOf(text: string, start: number): number {
  let h = 0x811c9dc5 ^ (start & 0xffffffff);
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

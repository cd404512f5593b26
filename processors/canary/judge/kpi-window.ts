import type { LatencySketch } from './latency-sketch.js';

/** One closed KPI window of one track (canary or baseline) of a rollout, as the judge reads it. */
export interface KpiWindowSummary {
  /** Names the window in the evidence, e.g. its start as ISO time. */
  readonly windowId: string;
  readonly requestCount: number;
  /** Failed requests (5xx and api_error) among `requestCount`. */
  readonly errorCount: number;
  /** A bounded uniform sample of the window's latencies in ms (see LatencyReservoir). */
  readonly latencySamples: ArrayLike<number>;
  /** Every request's latency, as a mergeable quantile sketch. */
  readonly latencySketch: LatencySketch;
}

export type Track = 'canary' | 'baseline';

/** Throws a RangeError naming the track, the window and the bad count. */
export function checkKpiWindow(track: Track, window: KpiWindowSummary): void {
  const { windowId, requestCount, errorCount } = window;
  if (!Number.isSafeInteger(requestCount) || requestCount < 0) {
    throw new RangeError(
      `${track} window ${windowId}: requestCount must be a whole number >= 0, got ${requestCount}`,
    );
  }
  if (!Number.isSafeInteger(errorCount) || errorCount < 0 || errorCount > requestCount) {
    throw new RangeError(
      `${track} window ${windowId}: errorCount must be a whole number within 0..requestCount (${requestCount}), got ${errorCount}`,
    );
  }
}

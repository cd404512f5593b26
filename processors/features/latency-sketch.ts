import { DDSketch } from '@datadog/sketches-js';

/** DDSketch's relative-accuracy guarantee: a reported quantile is within 1% of a true sample's value. */
export const LATENCY_RELATIVE_ACCURACY = 0.01;

/**
 * A DDSketch of non-negative latencies as compact JSON for a state store:
 * the non-empty bins as `[key, count, key, count, …]` and the count of zeros.
 * (The library's toProto writes every bin between the lowest and highest key,
 * about 2 kB even for a handful of values.)
 */
export interface EncodedSketch {
  readonly zeros: number;
  readonly bins: number[];
}

export const emptySketch = (): EncodedSketch => ({ zeros: 0, bins: [] });

export function decodeSketch(encoded: EncodedSketch): DDSketch {
  const sketch = new DDSketch({ relativeAccuracy: LATENCY_RELATIVE_ACCURACY });
  if (encoded.zeros > 0) sketch.accept(0, encoded.zeros);
  for (let i = 0; i < encoded.bins.length; i += 2) {
    const key = encoded.bins[i]!;
    const count = encoded.bins[i + 1]!;
    sketch.store.add(key, count);
    sketch.count += count;
  }
  return sketch;
}

export function encodeSketch(sketch: DDSketch): EncodedSketch {
  const bins: number[] = [];
  const { store } = sketch;
  for (let i = 0; i < store.bins.length; i++) {
    const count = store.bins[i]!;
    if (count > 0) bins.push(i + store.offset, count);
  }
  return { zeros: sketch.zeroCount, bins };
}

/** The quantiles (0..1) of the union of several sketches (DDSketches merge exactly). */
export function mergedQuantiles(sketches: readonly EncodedSketch[], quantiles: readonly number[]): number[] {
  const merged = new DDSketch({ relativeAccuracy: LATENCY_RELATIVE_ACCURACY });
  for (const s of sketches) merged.merge(decodeSketch(s));
  return quantiles.map((q) => (merged.count === 0 ? 0 : merged.getValueAtQuantile(q)));
}

import { DDSketch } from '@datadog/sketches-js';

/** Format tag of `toBytes()`; a reader refuses any other. */
const FORMAT_VERSION = 1;
const HEADER_BYTES = 1 + 8 * 4;
/** The key mapping of a sketch at the relative accuracy below (1%). */
const binMapping = new DDSketch({ relativeAccuracy: 0.01 }).mapping;

/**
 * Latencies as DDSketch bins in a plain JSON value, for a window store: one
 * logarithm and one increment per latency, no sketch decoded per record.
 * `LatencySketch.fromBins` turns them into a sketch when the window closes.
 */
export interface LatencyBins {
  /** Latencies of 0 ms (a logarithmic key has no bin for them). */
  zeros: number;
  /** DDSketch key → latencies. */
  bins: Record<string, number>;
}

/** Counts one latency into `target`, in place. */
export function addToLatencyBins(target: LatencyBins, latencyMs: number): void {
  if (latencyMs <= binMapping.minPossible) target.zeros += 1;
  else {
    const key = String(binMapping.key(latencyMs));
    target.bins[key] = (target.bins[key] ?? 0) + 1;
  }
}

/**
 * A mergeable quantile sketch of one window's request latencies (milliseconds),
 * backed by DataDog's DDSketch: every reported quantile is within
 * `relativeAccuracy` (1%) of a latency actually seen, whatever the
 * distribution, and two sketches merge exactly (the merged sketch answers as
 * if it had seen both windows' requests). That makes it the window summary
 * for p50/p99 over any set of windows, without keeping the requests.
 *
 * Weights are whole request counts, so the bytes stay small and exact.
 */
export class LatencySketch {
  static readonly RELATIVE_ACCURACY = 0.01;

  readonly #sketch: DDSketch;

  constructor() {
    this.#sketch = new DDSketch({ relativeAccuracy: LatencySketch.RELATIVE_ACCURACY });
  }

  /** A new sketch holding the union of `sketches` (the arguments are left as they are). */
  static merged(sketches: Iterable<LatencySketch>): LatencySketch {
    const merged = new LatencySketch();
    for (const s of sketches) merged.merge(s);
    return merged;
  }

  /** The latencies of `bins` (each bin's count at its representative value). */
  static fromBins(bins: LatencyBins): LatencySketch {
    const sketch = new LatencySketch();
    if (bins.zeros > 0) sketch.add(0, bins.zeros);
    for (const [key, count] of Object.entries(bins.bins)) sketch.add(binMapping.value(Number(key)), count);
    return sketch;
  }

  /** Counts one latency (or `count` requests of that latency). */
  add(latencyMs: number, count = 1): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) {
      throw new RangeError(`latency sketch: latency must be a finite number >= 0 ms, got ${latencyMs}`);
    }
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`latency sketch: count must be a whole number >= 1, got ${count}`);
    }
    this.#sketch.accept(latencyMs, count);
  }

  /** Adds every latency `other` has seen to this sketch. */
  merge(other: LatencySketch): void {
    this.#sketch.merge(other.#sketch);
  }

  /** The latency at quantile `q` (0..1), within 1%; NaN when the sketch is empty. */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`latency sketch: quantile must be within 0..1, got ${q}`);
    return this.#sketch.getValueAtQuantile(q);
  }

  /** Requests counted. */
  get count(): number {
    return this.#sketch.count;
  }

  /** Smallest latency counted (Infinity when empty). */
  get min(): number {
    return this.#sketch.min;
  }

  /** Largest latency counted (-Infinity when empty). */
  get max(): number {
    return this.#sketch.max;
  }

  /** Sum of the latencies counted, for a mean. */
  get sum(): number {
    return this.#sketch.sum;
  }

  /**
   * Compact bytes for a state store or an Avro `bytes` field: a header (format,
   * accuracy, min, max, sum), the zero count, then only the non-empty bins as
   * varint key gaps and counts. A few hundred bytes for a typical window,
   * where the library's toProto writes every bin between the lowest and
   * highest (and needs protobufjs, which the library does not declare).
   */
  toBytes(): Uint8Array {
    const s = this.#sketch;
    const header = new DataView(new ArrayBuffer(HEADER_BYTES));
    header.setUint8(0, FORMAT_VERSION);
    header.setFloat64(1, LatencySketch.RELATIVE_ACCURACY, true);
    header.setFloat64(9, s.min, true);
    header.setFloat64(17, s.max, true);
    header.setFloat64(25, s.sum, true);
    const body: number[] = [];
    writeVarint(body, s.zeroCount);
    const { bins, offset } = s.store;
    let nonEmpty = 0;
    for (const c of bins) if (c > 0) nonEmpty++;
    writeVarint(body, nonEmpty);
    let previousKey: number | undefined;
    for (let i = 0; i < bins.length; i++) {
      const c = bins[i]!;
      if (c <= 0) continue;
      const key = i + offset;
      if (previousKey === undefined) writeVarint(body, zigzag(key));
      else writeVarint(body, key - previousKey);
      writeVarint(body, c);
      previousKey = key;
    }
    const bytes = new Uint8Array(HEADER_BYTES + body.length);
    bytes.set(new Uint8Array(header.buffer), 0);
    bytes.set(body, HEADER_BYTES);
    return bytes;
  }

  /** The sketch `toBytes()` wrote; throws a RangeError naming the problem on other bytes. */
  static fromBytes(bytes: Uint8Array): LatencySketch {
    if (bytes.length < HEADER_BYTES)
      throw corrupt(`${bytes.length} bytes, fewer than the header's ${HEADER_BYTES}`);
    const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
    const version = header.getUint8(0);
    if (version !== FORMAT_VERSION) throw corrupt(`format ${version}, this reader knows ${FORMAT_VERSION}`);
    const accuracy = header.getFloat64(1, true);
    if (accuracy !== LatencySketch.RELATIVE_ACCURACY) {
      throw corrupt(`relative accuracy ${accuracy}, this reader uses ${LatencySketch.RELATIVE_ACCURACY}`);
    }
    const result = new LatencySketch();
    const s = result.#sketch;
    const reader = { bytes, at: HEADER_BYTES };
    const zeros = readVarint(reader);
    const nonEmpty = readVarint(reader);
    let key = 0;
    for (let b = 0; b < nonEmpty; b++) {
      key = b === 0 ? unzigzag(readVarint(reader)) : key + readVarint(reader);
      const c = readVarint(reader);
      s.store.add(key, c);
    }
    if (reader.at !== bytes.length)
      throw corrupt(`${bytes.length - reader.at} bytes left after the last bin`);
    s.zeroCount = zeros;
    s.count = zeros + s.store.count;
    s.min = header.getFloat64(9, true);
    s.max = header.getFloat64(17, true);
    s.sum = header.getFloat64(25, true);
    return result;
  }
}

const corrupt = (what: string): RangeError =>
  new RangeError(
    `latency sketch bytes are not a sketch this version wrote (${what}); were they written by toBytes()?`,
  );

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);
const unzigzag = (n: number): number => (n % 2 === 0 ? n / 2 : -(n + 1) / 2);

/** Unsigned LEB128 up to 2^53, by arithmetic (bit operators stop at 32 bits). */
function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) + 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(reader: { readonly bytes: Uint8Array; at: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (reader.at >= reader.bytes.length) throw corrupt('truncated inside a number');
    const byte = reader.bytes[reader.at++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 0x80;
    if (scale > 2 ** 56) throw corrupt('a number longer than 8 bytes');
  }
}

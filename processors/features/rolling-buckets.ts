/**
 * A rolling window as a short list of fixed-size buckets of event time (e.g.
 * the last 60 one-minute buckets for "1 hour"), stored as plain JSON in an
 * entity's state. Values are as of the entity's latest event time: the window
 * is the bucket holding it and the `size - 1` before it, so its resolution is
 * one bucket. Buckets that fall out of the window are dropped, which bounds
 * the state per entity.
 */
export interface Bucket {
  /** `floor(eventTime / bucketMs)`. */
  readonly slot: number;
}

export interface RollingWindow {
  readonly bucketMs: number;
  /** Buckets in the window. */
  readonly size: number;
}

export const LAST_5_MINUTES: RollingWindow = { bucketMs: 60_000, size: 5 };
export const LAST_HOUR: RollingWindow = { bucketMs: 60_000, size: 60 };
export const LAST_24_HOURS: RollingWindow = { bucketMs: 3_600_000, size: 24 };

export const slotOf = (window: RollingWindow, time: number): number => Math.floor(time / window.bucketMs);

/**
 * The bucket for `time`, created with `create(slot)` if missing; undefined when
 * `time` is already out of the window that ends at `asOf`. Mutates `buckets`.
 */
export function bucketAt<B extends Bucket>(
  buckets: B[],
  window: RollingWindow,
  asOf: number,
  time: number,
  create: (slot: number) => B,
): B | undefined {
  const slot = slotOf(window, time);
  if (slot <= slotOf(window, asOf) - window.size) return undefined;
  let bucket = buckets.find((b) => b.slot === slot);
  if (bucket === undefined) {
    bucket = create(slot);
    buckets.push(bucket);
    buckets.sort((a, b) => a.slot - b.slot);
  }
  return bucket;
}

/** The buckets still in the window that ends at `asOf` (drops the others, in place). */
export function inWindow<B extends Bucket>(buckets: B[], window: RollingWindow, asOf: number): B[] {
  const oldest = slotOf(window, asOf) - window.size + 1;
  const keep = buckets.filter((b) => b.slot >= oldest);
  buckets.splice(0, buckets.length, ...keep);
  return buckets;
}

/** Sum of `field` over the buckets of the window ending at `asOf`. */
export function sumInWindow<B extends Bucket>(
  buckets: B[],
  window: RollingWindow,
  asOf: number,
  field: (bucket: B) => number,
): number {
  return inWindow(buckets, window, asOf).reduce((total, b) => total + field(b), 0);
}

/** `numerator / denominator`, 0 when there is nothing to divide by. */
export const ratio = (numerator: number, denominator: number): number =>
  denominator === 0 ? 0 : numerator / denominator;

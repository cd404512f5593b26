/** What a reservoir keeps in a state store: enough to go on sampling after a restart. */
export interface ReservoirState {
  readonly capacity: number;
  /** Latencies offered so far, kept or not. */
  readonly seen: number;
  readonly samples: readonly number[];
}

/**
 * One step of Algorithm R on a reservoir's state, in place: `samples` (at
 * most `capacity`) after `seen` latencies offered; returns the new `seen`.
 * `random` is called only once the reservoir is full. For a state kept in a
 * store and updated per request without building a LatencyReservoir.
 */
export function offerLatency(
  samples: number[],
  seen: number,
  capacity: number,
  latencyMs: number,
  random: () => number,
): number {
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    throw new RangeError(`latency reservoir: latency must be a finite number >= 0 ms, got ${latencyMs}`);
  }
  const offered = seen + 1;
  if (samples.length < capacity) {
    samples.push(latencyMs);
    return offered;
  }
  const slot = Math.floor(random() * offered);
  if (slot < capacity) samples[slot] = latencyMs;
  return offered;
}

/**
 * A bounded, uniform sample of one window's request latencies (milliseconds),
 * for the rank tests that need raw values (a sketch keeps only quantiles).
 *
 * Sampling is Vitter's Algorithm R: the first `capacity` latencies are kept;
 * the n-th after that replaces a random kept one with probability
 * capacity / n, so at any moment every latency seen had the same chance to be
 * kept. `random` (uniform in [0, 1)) makes it reproducible: pass a seeded
 * generator, never Math.random, where a replay must give the same sample.
 */
export class LatencyReservoir {
  readonly capacity: number;
  #seen: number;
  readonly #samples: number[];
  readonly #random: () => number;

  constructor(capacity: number, random: () => number, state?: ReservoirState) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`latency reservoir: capacity must be a whole number >= 1, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#random = random;
    this.#seen = 0;
    this.#samples = [];
    if (state !== undefined) {
      if (state.samples.length > capacity || state.seen < state.samples.length) {
        throw new RangeError(
          `latency reservoir: a state of ${state.samples.length} samples out of ${state.seen} seen does not fit capacity ${capacity}`,
        );
      }
      this.#seen = state.seen;
      this.#samples.push(...state.samples);
    }
  }

  /** Offers one latency; it is kept with probability capacity / seen. */
  add(latencyMs: number): void {
    this.#seen = offerLatency(this.#samples, this.#seen, this.capacity, latencyMs, this.#random);
  }

  /**
   * Folds `other` in, as if one reservoir had seen both streams
   * (approximately): each kept slot is drawn from this side or the other in
   * proportion to how many latencies each has seen, then a random sample of
   * that side is taken without replacement. Exact when both still hold all
   * they saw and fit together.
   */
  merge(other: LatencyReservoir): void {
    const mine = this.#samples.splice(0);
    const theirs = [...other.#samples];
    const mySeen = this.#seen;
    const theirSeen = other.#seen;
    this.#seen = mySeen + theirSeen;
    const keep = Math.min(this.capacity, mine.length + theirs.length);
    for (let k = 0; k < keep; k++) {
      const fromMine = theirs.length === 0 || (mine.length > 0 && this.#random() * this.#seen < mySeen);
      const pool = fromMine ? mine : theirs;
      const at = Math.floor(this.#random() * pool.length);
      this.#samples.push(pool[at]!);
      pool[at] = pool[pool.length - 1]!;
      pool.pop();
    }
  }

  /** Latencies offered so far, kept or not. */
  get seen(): number {
    return this.#seen;
  }

  /** The kept latencies, in no particular order. */
  get samples(): readonly number[] {
    return this.#samples;
  }

  toState(): ReservoirState {
    return { capacity: this.capacity, seen: this.#seen, samples: [...this.#samples] };
  }
}

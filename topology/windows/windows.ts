import { TopologyError } from '../errors.js';

/**
 * A window's bounds in event time: `start` inclusive, `end` exclusive for
 * time windows; both inclusive for session and sliding windows, as in Kafka Streams.
 */
export interface Window {
  readonly start: number;
  readonly end: number;
}

/** The key of a windowed aggregate: the record key and the window it counts in. */
export interface Windowed<K> {
  readonly key: K;
  readonly window: Window;
}

function checkDuration(what: string, ms: number, allowZero: boolean): void {
  if (!Number.isInteger(ms) || ms < 0 || (!allowZero && ms === 0)) {
    throw new TopologyError(
      `${what} must be a ${allowZero ? 'non-negative' : 'positive'} whole number of milliseconds, got ${ms}`,
    );
  }
}

/**
 * Fixed-size windows on event time: tumbling (advance = size) or hopping
 * (advance < size, so a record falls in several windows). Windows are aligned
 * to the epoch. A window closes when stream time passes its end plus grace.
 *
 * @example TimeWindows.ofSizeAndGrace(60_000, 5_000)                  // tumbling minute, 5 s grace
 * @example TimeWindows.ofSizeAndGrace(300_000, 0).advanceBy(60_000)   // 5-minute windows every minute
 */
export class TimeWindows {
  readonly kind = 'time' as const;
  private constructor(
    readonly sizeMs: number,
    readonly advanceMs: number,
    readonly graceMs: number,
  ) {}

  static ofSizeAndGrace(sizeMs: number, graceMs: number): TimeWindows {
    checkDuration('TimeWindows size', sizeMs, false);
    checkDuration('TimeWindows grace', graceMs, true);
    return new TimeWindows(sizeMs, sizeMs, graceMs);
  }

  /** Hopping windows: a new window starts every `advanceMs` (at most the size). */
  advanceBy(advanceMs: number): TimeWindows {
    checkDuration('TimeWindows advance', advanceMs, false);
    if (advanceMs > this.sizeMs)
      throw new TopologyError(
        `TimeWindows advance (${advanceMs} ms) must not exceed the size (${this.sizeMs} ms)`,
      );
    return new TimeWindows(this.sizeMs, advanceMs, this.graceMs);
  }

  /** The windows a timestamp falls in, earliest first. */
  windowsFor(timestamp: number): Window[] {
    const out: Window[] = [];
    const lastStart = timestamp - (timestamp % this.advanceMs);
    for (let start = lastStart; start > timestamp - this.sizeMs && start >= 0; start -= this.advanceMs) {
      out.push({ start, end: start + this.sizeMs });
    }
    return out.reverse();
  }

  /** How long a window is kept after its start: size plus grace. */
  get retentionMs(): number {
    return this.sizeMs + this.graceMs;
  }

  describe(): string {
    return this.advanceMs === this.sizeMs
      ? `tumbling ${this.sizeMs} ms, grace ${this.graceMs} ms`
      : `hopping ${this.sizeMs} ms every ${this.advanceMs} ms, grace ${this.graceMs} ms`;
  }
}

/**
 * Session windows: per key, records closer than `inactivityGapMs` belong to one
 * session; a record that bridges two sessions merges them.
 *
 * @example SessionWindows.ofInactivityGapAndGrace(30 * 60_000, 5 * 60_000)
 */
export class SessionWindows {
  readonly kind = 'session' as const;
  private constructor(
    readonly inactivityGapMs: number,
    readonly graceMs: number,
  ) {}

  static ofInactivityGapAndGrace(inactivityGapMs: number, graceMs: number): SessionWindows {
    checkDuration('SessionWindows inactivity gap', inactivityGapMs, false);
    checkDuration('SessionWindows grace', graceMs, true);
    return new SessionWindows(inactivityGapMs, graceMs);
  }

  describe(): string {
    return `session gap ${this.inactivityGapMs} ms, grace ${this.graceMs} ms`;
  }
}

/**
 * Sliding windows, as Kafka Streams' `SlidingWindows`: windows of a fixed size
 * `timeDifferenceMs` with both bounds inclusive, which exist only where records
 * are, so each window holds a distinct set of records at most
 * `timeDifferenceMs` apart. A record at `t` creates its left window
 * `[t - diff, t]` and, once a later record falls within `diff` after it, its
 * right window `[t + 1, t + 1 + diff]`; every existing window containing `t`
 * is updated. A window closes once stream time is strictly past its end plus
 * grace; a record all of whose windows have closed is late.
 *
 * Records at `t < diff` would start windows before the epoch; as in Kafka
 * Streams, they share the window `[0, diff]`.
 *
 * With a difference of 5 000 ms, records at 8 000, 9 200 and 12 400 make five
 * windows: [3000, 8000] {8000}, [4200, 9200] {8000, 9200},
 * [7400, 12400] {8000, 9200, 12400}, [8001, 13001] {9200, 12400},
 * [9201, 14201] {12400}.
 *
 * @example SlidingWindows.ofTimeDifferenceAndGrace(60_000, 10_000) // records at most a minute apart, 10 s grace
 */
export class SlidingWindows {
  readonly kind = 'sliding' as const;
  private constructor(
    readonly timeDifferenceMs: number,
    readonly graceMs: number,
  ) {}

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): SlidingWindows {
    checkDuration('SlidingWindows time difference', timeDifferenceMs, true);
    checkDuration('SlidingWindows grace', graceMs, true);
    return new SlidingWindows(timeDifferenceMs, graceMs);
  }

  describe(): string {
    return `sliding ${this.timeDifferenceMs} ms, grace ${this.graceMs} ms`;
  }
}

export type WindowSpec = TimeWindows | SessionWindows | SlidingWindows;

/** The stream time after which a window accepts no more records. */
export function closesAt(window: Window, graceMs: number): number {
  return window.end + graceMs;
}

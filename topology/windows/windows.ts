import { TopologyError } from '../errors.js';

/** A window's bounds in event time: `start` inclusive, `end` exclusive (sessions: both inclusive, as in Kafka Streams). */
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

export type WindowSpec = TimeWindows | SessionWindows;

/** The stream time after which a window accepts no more records. */
export function closesAt(window: Window, graceMs: number): number {
  return window.end + graceMs;
}

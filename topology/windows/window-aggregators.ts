/**
 * The processors behind windowed aggregations, on the per-record contract.
 * Each reads the task's stream time (the context's one clock, persisted with
 * commits), accepts a record into a window only while the window is open, as
 * Kafka Streams does: a time window until stream time reaches end + grace, a
 * sliding window while its (inclusive) end + grace is not behind stream time,
 * a session while its end + gap + grace is not behind stream time (an event
 * up to a gap after a session still extends it). A record that missed a
 * closed window is reported as late (never dropped silently). Output: one
 * KTable update per changed window, keyed Windowed<K>; a session merged away
 * is retracted with a null value (a tombstone).
 */
import { TopologyError } from '../errors.js';
import type { ProcessorContext, RecordProcessor } from '../processor.js';
import type { StreamRecord } from '../record.js';
import { findSessionsStored, type SessionStore } from '../state/session-store.js';
import type { KeyValueStore } from '../state/store.js';
import type { TimestampedAggregate } from './timestamped-serde.js';
import { WindowStartIndex } from './window-start-index.js';
import {
  closesAt,
  type SessionWindows,
  type SlidingWindows,
  type TimeWindows,
  type Window,
  type Windowed,
} from './windows.js';

export interface Aggregation<K, V, VA> {
  readonly initializer: () => VA;
  readonly aggregator: (key: K, value: V, aggregate: VA) => VA;
}

type In<K, V> = StreamRecord<K, V>;
type Out<K, VA> = StreamRecord<Windowed<K>, VA | null>;

/** Per record: forwards the updates it causes, in order. */
function perRecord<K, V, VA>(
  context: ProcessorContext,
  fn: (record: In<K, V>) => Array<Out<K, VA>> | Promise<Array<Out<K, VA>>>,
): RecordProcessor<K, V> {
  const forwardAll = (updates: Array<Out<K, VA>>) => {
    for (const update of updates) context.forward(update);
  };
  return {
    process: (record) => {
      if (record.key === null || record.key === undefined)
        throw new TopologyError(`${context.nodeName}: a record with a null key cannot be windowed`);
      const updates = fn(record);
      return updates instanceof Promise ? updates.then(forwardAll) : forwardAll(updates);
    },
  };
}

const span = (w: Window) => `[${w.start}, ${w.end})`;
const inclusiveSpan = (w: Window) => `[${w.start}, ${w.end}]`;

/** Tumbling and hopping windows over a key-value store keyed by Windowed<K>. */
export function timeWindowAggregator<K, V, VA>(
  windows: TimeWindows,
  agg: Aggregation<K, V, VA>,
  storeName: string,
) {
  return (context: ProcessorContext): RecordProcessor<K, V> => {
    const store = context.getStateStore<KeyValueStore<Windowed<K>, VA>>(storeName);
    return perRecord(context, async (record) => {
      const observed = context.streamTime();
      const updates: Array<Out<K, VA>> = [];
      const closed: Window[] = [];
      for (const window of windows.windowsFor(record.timestamp)) {
        if (closesAt(window, windows.graceMs) <= observed) {
          closed.push(window);
          continue;
        }
        const key: Windowed<K> = { key: record.key, window };
        const next = agg.aggregator(record.key, record.value, (await store.get(key)) ?? agg.initializer());
        store.put(key, next);
        updates.push({ ...record, key, value: next });
      }
      if (closed.length > 0) {
        context.late(
          record as StreamRecord<unknown, unknown>,
          `timestamp ${record.timestamp} is too late for window(s) ${closed.map(span).join(', ')}: stream time is ${observed}, grace ${windows.graceMs} ms`,
        );
      }
      return updates;
    });
  };
}

/** Session windows: merge every session within the gap of the record, retracting the merged ones. */
export function sessionWindowAggregator<K, V, VA>(
  windows: SessionWindows,
  agg: Aggregation<K, V, VA> & { readonly merger: (key: K, left: VA, right: VA) => VA },
  storeName: string,
) {
  return (context: ProcessorContext): RecordProcessor<K, V> => {
    const store = context.getStateStore<SessionStore<K, VA>>(storeName);
    const merge = (record: In<K, V>, overlapping: Array<[Windowed<K>, VA]>): Array<Out<K, VA>> => {
      const observed = context.streamTime();
      const t = record.timestamp;
      const gap = windows.inactivityGapMs;
      let merged: Window = { start: t, end: t };
      let aggregate = agg.initializer();
      for (const [session, value] of overlapping) {
        merged = {
          start: Math.min(merged.start, session.window.start),
          end: Math.max(merged.end, session.window.end),
        };
        aggregate = agg.merger(record.key, aggregate, value);
      }
      // Kafka Streams: a session is late only once its end plus gap plus grace is strictly behind stream time
      if (closesAt(merged, gap + windows.graceMs) < observed) {
        context.late(
          record as StreamRecord<unknown, unknown>,
          `timestamp ${t} is too late for session ${inclusiveSpan(merged)} of its key: stream time is ${observed}, gap ${gap} ms, grace ${windows.graceMs} ms`,
        );
        return [];
      }
      const updates: Array<Out<K, VA>> = [];
      for (const [session] of overlapping) {
        if (session.window.start === merged.start && session.window.end === merged.end) continue;
        store.remove(session);
        updates.push({ ...record, key: session, value: null });
      }
      aggregate = agg.aggregator(record.key, record.value, aggregate);
      const key: Windowed<K> = { key: record.key, window: merged };
      store.put(key, aggregate);
      updates.push({ ...record, key, value: aggregate });
      return updates;
    };
    // no promise for the record when the key's sessions are in memory (read ahead for the batch)
    return perRecord(context, (record) =>
      findSessionsStored(
        store,
        record.key,
        record.timestamp - windows.inactivityGapMs,
        record.timestamp + windows.inactivityGapMs,
        (overlapping) => merge(record, overlapping),
      ),
    );
  };
}

/**
 * Sliding windows over a key-value store keyed by Windowed<K>, whose values
 * carry the latest record time of their window (Kafka Streams'
 * KStreamSlidingWindowAggregate, in its reverse-scan form). A record at `t`
 * reads its key's windows starting in `[t - 2 * diff, t + 1]`, the only ones
 * that can contain it or tell which windows it creates; an index of window
 * starts per key, rebuilt from the store when the task starts, finds them
 * with point reads. Updates are emitted in the order Kafka Streams forwards
 * them, each stamped with the latest record time of its window.
 */
export function slidingWindowAggregator<K, V, VA>(
  windows: SlidingWindows,
  agg: Aggregation<K, V, VA>,
  storeName: string,
  /** A record key's identity: its serialised bytes. */
  keyId: (key: K) => string,
) {
  const diff = windows.timeDifferenceMs;
  return (context: ProcessorContext): RecordProcessor<K, V> => {
    const store = context.getStateStore<KeyValueStore<Windowed<K>, TimestampedAggregate<VA>>>(storeName);
    let index: WindowStartIndex | undefined;
    const indexed = async (): Promise<WindowStartIndex> => {
      if (index === undefined) {
        index = new WindowStartIndex();
        for await (const [windowed] of store.all()) index.add(keyId(windowed.key), windowed.window.start);
      }
      return index;
    };

    /** The windows of `key` (whose identity is `id`) starting in [fromStart, toStart], by start. */
    const windowsOf = async (key: K, id: string, fromStart: number, toStart: number) => {
      const starts = await indexed();
      const found: Array<Slide<VA>> = [];
      for (const start of starts.between(id, fromStart, toStart)) {
        const window = slidingWindowAt(start, diff);
        const value = await store.get({ key, window });
        // a window store with retention deletes old windows behind our back
        if (value === undefined) starts.remove(id, start);
        else found.push({ window, value });
      }
      return found;
    };
    /**
     * A record that is not late is above stream time - grace - diff - 1 and reads
     * windows from 2 * diff before it: older starts can be forgotten.
     */
    const reach = 3 * diff + windows.graceMs + 1;
    let forgottenUpTo = Number.NEGATIVE_INFINITY;
    const forgetUnreachable = (starts: WindowStartIndex, observed: number) => {
      if (observed - reach - forgottenUpTo < reach) return;
      forgottenUpTo = observed - reach;
      starts.removeStartingBefore(forgottenUpTo);
    };

    return perRecord(context, async (record) => {
      const t = record.timestamp;
      const observed = context.streamTime();
      // Kafka Streams: a sliding window is open while its (inclusive) end >= stream time - grace
      const closeTime = observed - windows.graceMs;
      const late = (closed: readonly Window[]) =>
        context.late(
          record as StreamRecord<unknown, unknown>,
          `timestamp ${t} is too late for sliding window(s) ${closed.map(inclusiveSpan).join(', ')}: stream time is ${observed}, grace ${windows.graceMs} ms`,
        );
      if (t + 1 + diff <= closeTime) {
        // even the record's right window has closed: it belongs to no open window
        late([slidingWindowAt(Math.max(0, t - diff), diff)]);
        return [];
      }
      const id = keyId(record.key);
      const starts = await indexed();
      forgetUnreachable(starts, observed);
      const pass = new SlidingWindowPass(record, diff, closeTime, agg, (window, value) => {
        store.put({ key: record.key, window }, value);
        starts.add(id, window.start);
      });
      if (t < diff) pass.addEarly(await windowsOf(record.key, id, 0, t + 1));
      else pass.add(await windowsOf(record.key, id, Math.max(0, t - 2 * diff), t + 1));
      if (pass.closed.length > 0) late(pass.closed);
      return pass.updates;
    });
  };
}

/** A sliding window found in the store, with its aggregate and latest record time. */
interface Slide<VA> {
  readonly window: Window;
  readonly value: TimestampedAggregate<VA>;
}

const slidingWindowAt = (start: number, diff: number): Window => ({ start, end: start + diff });

/** What one record does to its key's sliding windows: the updates it emits and the closed windows it missed. */
class SlidingWindowPass<K, V, VA> {
  readonly updates: Array<Out<K, VA>> = [];
  readonly closed: Window[] = [];
  private readonly t: number;

  constructor(
    private readonly record: In<K, V>,
    private readonly diff: number,
    private readonly closeTime: number,
    private readonly agg: Aggregation<K, V, VA>,
    /** Writes a window to the store. */
    private readonly save: (window: Window, value: TimestampedAggregate<VA>) => void,
  ) {
    this.t = record.timestamp;
  }

  /** A record at `t >= diff`: updates the windows containing it, creates its left window and the right windows it makes non-empty. */
  add(existing: ReadonlyArray<Slide<VA>>): void {
    const t = this.t;
    const starts = new Set<number>();
    let leftWindowExists = false;
    let rightWindowExists = false;
    /** The latest window ending before `t`: the new left window starts from its records. */
    let before: TimestampedAggregate<VA> | undefined;
    /** The latest window containing `t`, as it was: the new right window starts from its records after `t`. */
    let after: TimestampedAggregate<VA> | undefined;
    /** The latest earlier record the windows tell of. */
    let previous: number | undefined;
    // latest start first: the scan can stop at the first window ending before t
    for (let i = existing.length - 1; i >= 0; i -= 1) {
      const { window, value } = existing[i]!;
      starts.add(window.start);
      if (window.start === t + 1) {
        rightWindowExists = true;
      } else if (window.end > t) {
        after ??= value;
        this.update(window, value);
      } else if (window.end === t) {
        leftWindowExists = true;
        this.update(window, value);
        // a record at t came before: it created every window this one would
        if (value.timestamp >= t) return;
        previous = value.timestamp;
      } else {
        before = value;
        previous = value.timestamp;
        break;
      }
    }
    if (previous !== undefined && !starts.has(previous + 1) && previous + 1 + this.diff >= t) {
      // the previous record's right window was empty until this record
      this.update(this.windowAt(previous + 1), undefined);
    }
    if (!leftWindowExists) {
      const startsWithPrevious = before !== undefined && previous !== undefined && previous >= t - this.diff;
      this.update(
        this.windowAt(t - this.diff),
        startsWithPrevious ? { aggregate: before!.aggregate, timestamp: t } : undefined,
      );
    }
    if (!rightWindowExists) this.createRightWindow(after);
  }

  /**
   * A record at `t < diff`, whose left window would start before the epoch: as
   * in Kafka Streams it goes into the window [0, diff] all such records share.
   */
  addEarly(existing: ReadonlyArray<Slide<VA>>): void {
    const t = this.t;
    const starts = new Set<number>();
    let shared: Slide<VA> | undefined;
    let after: TimestampedAggregate<VA> | undefined;
    let rightWindowExists = false;
    let previous: number | undefined;
    for (const { window, value } of existing) {
      starts.add(window.start);
      if (window.start === 0) {
        shared = { window, value };
        if (value.timestamp < t) previous = value.timestamp;
      } else if (window.start <= t) {
        after = value;
        this.update(window, value);
      } else {
        rightWindowExists = true;
      }
    }
    // no earlier record's right window holds t, so the shared window's records are all after t, if any is
    if (after === undefined && shared !== undefined && shared.value.timestamp > t) after = shared.value;
    if (!rightWindowExists) this.createRightWindow(after);
    if (previous !== undefined && !starts.has(previous + 1))
      this.update(this.windowAt(previous + 1), undefined);
    this.update(shared?.window ?? this.windowAt(0), shared?.value);
  }

  /** Adds the record to a window (`current` undefined: a new, empty one) unless that window has closed. */
  private update(window: Window, current: TimestampedAggregate<VA> | undefined): void {
    if (window.end < this.closeTime) {
      this.closed.push(window);
      return;
    }
    const { key, value } = this.record;
    this.put(window, {
      aggregate: this.agg.aggregator(
        key,
        value,
        current === undefined ? this.agg.initializer() : current.aggregate,
      ),
      timestamp: current === undefined ? this.t : Math.max(this.t, current.timestamp),
    });
  }

  /** The record's right window [t + 1, t + 1 + diff] exists only when records after `t` are in it: those of `after`. */
  private createRightWindow(after: TimestampedAggregate<VA> | undefined): void {
    if (after !== undefined && after.timestamp > this.t) this.put(this.windowAt(this.t + 1), after);
  }

  private put(window: Window, value: TimestampedAggregate<VA>): void {
    this.save(window, value);
    this.updates.push({
      ...this.record,
      key: { key: this.record.key, window },
      value: value.aggregate,
      timestamp: value.timestamp,
    });
  }

  private windowAt(start: number): Window {
    return slidingWindowAt(start, this.diff);
  }
}

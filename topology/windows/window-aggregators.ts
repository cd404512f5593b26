/**
 * The processors behind windowed aggregations. Each keeps the stream time it
 * has observed (the highest timestamp it has seen in its task), accepts a
 * record into a window only while stream time < window end + grace, and
 * reports a record whose windows have all closed as late (never dropped
 * silently). Output: one KTable update per changed window, keyed Windowed<K>;
 * a session merged away is retracted with a null value (a tombstone).
 */
import { concatMap, type OperatorFunction } from 'rxjs';
import { TopologyError } from '../errors.js';
import { type ProcessorContext, RecordFailure } from '../processor.js';
import type { StreamRecord } from '../record.js';
import type { SessionStore } from '../state/session-store.js';
import type { KeyValueStore } from '../state/store.js';
import { closesAt, type SessionWindows, type TimeWindows, type Window, type Windowed } from './windows.js';

export interface Aggregation<K, V, VA> {
  readonly initializer: () => VA;
  readonly aggregator: (key: K, value: V, aggregate: VA) => VA;
}

type In<K, V> = StreamRecord<K, V>;
type Out<K, VA> = StreamRecord<Windowed<K>, VA | null>;

/** Per record: the updates it causes, in order; failures name the record. */
function perRecord<K, V, VA>(
  node: string,
  fn: (record: In<K, V>) => Promise<Array<Out<K, VA>>>,
): OperatorFunction<In<K, V>, Out<K, VA>> {
  return (source) =>
    source.pipe(
      concatMap(async (record) => {
        try {
          if (record.key === null || record.key === undefined)
            throw new TopologyError(`${node}: a record with a null key cannot be windowed`);
          return await fn(record);
        } catch (error) {
          throw new RecordFailure(record as StreamRecord<unknown, unknown>, error);
        }
      }),
      concatMap((updates) => updates),
    );
}

const span = (w: Window) => `[${w.start}, ${w.end})`;

/** Tumbling and hopping windows over a key-value store keyed by Windowed<K>. */
export function timeWindowAggregator<K, V, VA>(
  windows: TimeWindows,
  agg: Aggregation<K, V, VA>,
  storeName: string,
) {
  return (context: ProcessorContext): OperatorFunction<In<K, V>, Out<K, VA>> => {
    const store = context.getStateStore<KeyValueStore<Windowed<K>, VA>>(storeName);
    let observed = -1;
    return perRecord(context.nodeName, async (record) => {
      observed = Math.max(observed, record.timestamp);
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
  return (context: ProcessorContext): OperatorFunction<In<K, V>, Out<K, VA>> => {
    const store = context.getStateStore<SessionStore<K, VA>>(storeName);
    let observed = -1;
    return perRecord(context.nodeName, async (record) => {
      observed = Math.max(observed, record.timestamp);
      const t = record.timestamp;
      const gap = windows.inactivityGapMs;
      const overlapping = await store.findSessions(record.key, t - gap, t + gap);
      let merged: Window = { start: t, end: t };
      let aggregate = agg.initializer();
      for (const [session, value] of overlapping) {
        merged = {
          start: Math.min(merged.start, session.window.start),
          end: Math.max(merged.end, session.window.end),
        };
        aggregate = agg.merger(record.key, aggregate, value);
      }
      // Kafka Streams: a session is late only once its end plus grace is strictly behind stream time
      if (closesAt(merged, windows.graceMs) < observed) {
        context.late(
          record as StreamRecord<unknown, unknown>,
          `timestamp ${t} is too late for session ${span(merged)} of its key: stream time is ${observed}, grace ${windows.graceMs} ms`,
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
    });
  };
}

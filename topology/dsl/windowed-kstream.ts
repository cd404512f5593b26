import type { Windowed } from '../windows/windows.js';
import type { AggregateOptions } from './kgrouped-stream.js';
import type { KTable } from './ktable.js';

/** Options of count() and reduce(): the store's name and type; its value serde is implied. */
export type WindowedStoreOptions = Omit<AggregateOptions<unknown>, 'value'>;

/**
 * A grouped stream in fixed-size windows: tumbling or hopping (`TimeWindows`)
 * or sliding (`SlidingWindows`), as Kafka Streams' TimeWindowedKStream.
 * Aggregations are stateful: a window store `<name>` with changelog
 * `<applicationId>-<name>-changelog`. They emit one update per changed window.
 * A sliding window's store value is a `TimestampedAggregate` (the aggregate
 * and the window's latest record time), as in Kafka Streams' timestamped
 * window stores; that is what an interactive query of the store returns.
 */
export interface TimeWindowedKStream<K, V> {
  /**
   * Counts records per key and window.
   * @example grouped.windowedBy(TimeWindows.ofSizeAndGrace(60_000, 5_000)).count({ name: 'clicks-per-minute' })
   * @example grouped.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(60_000, 5_000)).count({ name: 'clicks-within-a-minute' })
   */
  count(options?: WindowedStoreOptions): KTable<Windowed<K>, number>;

  /** Combines the values of each key and window with `reducer`; a window's first value is its initial aggregate. */
  reduce(reducer: (aggregate: V, value: V) => V, options?: WindowedStoreOptions): KTable<Windowed<K>, V>;

  /**
   * Folds the values of each key and window into an aggregate that starts at `initializer()`.
   * @example grouped.windowedBy(windows).aggregate(() => ({ n: 0 }), (key, value, agg) => ({ n: agg.n + 1 }), { value: Serdes.json() })
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options?: AggregateOptions<VA>,
  ): KTable<Windowed<K>, VA>;
}

/**
 * A grouped stream in session windows. A record within the inactivity gap of
 * one or more sessions of its key merges them; the merged-away sessions are
 * retracted downstream with null values.
 */
export interface SessionWindowedKStream<K, V> {
  /** Counts records per key and session. */
  count(options?: WindowedStoreOptions): KTable<Windowed<K>, number>;

  /**
   * @param merger combines the aggregates of two sessions that a record bridges
   * @example
   * grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(30 * 60_000, 5 * 60_000))
   *   .aggregate(() => ({ events: 0 }), (k, e, s) => ({ events: s.events + 1 }), (k, a, b) => ({ events: a.events + b.events }), { value: Serdes.json() })
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, left: VA, right: VA) => VA,
    options?: AggregateOptions<VA>,
  ): KTable<Windowed<K>, VA>;
}

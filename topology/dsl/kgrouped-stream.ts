import type { Serde } from '../serdes/serde.js';
import type { StoreType } from '../state/store.js';
import type { SessionWindows, SlidingWindows, TimeWindows } from '../windows/windows.js';
import type { Named } from './kstream.js';
import type { KTable } from './ktable.js';
import type { SessionWindowedKStream, TimeWindowedKStream } from './windowed-kstream.js';

export interface AggregateOptions<VA> extends Named {
  /** Serde of the aggregate in the store and its changelog. */
  value?: Serde<VA>;
  /** Where the store keeps its data; default: the application's `defaultStoreType`. */
  store?: StoreType;
}

/**
 * A stream grouped by key, ready for an aggregation. Every aggregation is
 * stateful: it keeps a key-value store `<name>` backed by the compacted topic
 * `<applicationId>-<name>-changelog`, and emits the new aggregate for each input
 * record as a KTable update.
 */
export interface KGroupedStream<K, V> {
  /**
   * Aggregates per key and per window of event time: tumbling or hopping
   * (`TimeWindows`), sliding (`SlidingWindows`, like Kafka Streams a
   * TimeWindowedKStream) or session windows. Windows close when stream time
   * passes their end plus grace; later records go to `<applicationId>-late`.
   * @example grouped.windowedBy(TimeWindows.ofSizeAndGrace(60_000, 5_000)).count()
   * @example grouped.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(60_000, 5_000)).count()
   */
  windowedBy(windows: TimeWindows | SlidingWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;

  /**
   * Counts records per key.
   * @example stream.groupByKey().count({ name: 'events-per-tenant' })
   */
  count(options?: Named): KTable<K, number>;

  /** Combines values per key with `reducer`; the first value of a key is its initial aggregate. */
  reduce(reducer: (aggregate: V, value: V, key: K) => V, options?: Named): KTable<K, V>;

  /**
   * Folds values per key into an aggregate that starts at `initializer()`.
   * @example grouped.aggregate(() => ({ n: 0 }), (key, value, agg) => ({ n: agg.n + 1 }), { value: Serdes.json() })
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options?: AggregateOptions<VA>,
  ): KTable<K, VA>;
}

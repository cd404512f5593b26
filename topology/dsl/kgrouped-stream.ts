import { TopologyError } from '../errors.js';
import type { ProcessorSupplier } from '../processor.js';
import { numberSerde } from '../serdes/builtin.js';
import type { Serde } from '../serdes/serde.js';
import type { KeyValueStore, StoreType } from '../state/store.js';
import { checkStoreType } from '../state/store-type.js';
import type { SessionWindows, SlidingWindows, TimeWindows } from '../windows/windows.js';
import type { KStream, Named } from './kstream.js';
import { KTable } from './ktable.js';
import { SessionWindowedKStream, TimeWindowedKStream } from './windowed-kstream.js';

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
export class KGroupedStream<K, V> {
  /** @internal */
  constructor(
    private readonly stream: KStream<K, V>,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
  ) {}

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
  windowedBy(
    windows: TimeWindows | SlidingWindows | SessionWindows,
  ): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> {
    return windows.kind === 'session'
      ? new SessionWindowedKStream(this.stream, this.keySerde, windows)
      : new TimeWindowedKStream(this.stream, this.keySerde, this.valueSerde, windows);
  }

  /**
   * Counts records per key.
   * @example stream.groupByKey().count({ name: 'events-per-tenant' })
   */
  count(options: Named = {}): KTable<K, number> {
    return this.aggregate<number>(
      () => 0,
      (_k, _v, n) => n + 1,
      { ...options, value: numberSerde as Serde<number> },
      'count',
    );
  }

  /** Combines values per key with `reducer`; the first value of a key is its initial aggregate. */
  reduce(reducer: (aggregate: V, value: V, key: K) => V, options: Named = {}): KTable<K, V> {
    if (this.valueSerde === undefined) {
      throw new TopologyError(
        'reduce(): the stream has no value serde for the store',
        'pass { value: serde } to groupByKey()/groupBy()',
      );
    }
    return this.aggregate<V | undefined>(
      () => undefined,
      (key, value, agg) => (agg === undefined ? value : reducer(agg, value, key)),
      { ...options, value: this.valueSerde as Serde<V | undefined> },
      'reduce',
    ) as KTable<K, V>;
  }

  /**
   * Folds values per key into an aggregate that starts at `initializer()`.
   * @example grouped.aggregate(() => ({ n: 0 }), (key, value, agg) => ({ n: agg.n + 1 }), { value: Serdes.json() })
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: AggregateOptions<VA> = {},
    operation = 'aggregate',
  ): KTable<K, VA> {
    const { graph, path } = this.stream.position;
    const storeName = options.name ?? `${path}-${operation}`.replace(/\./g, '-');
    if (this.keySerde === undefined) {
      throw new TopologyError(
        `${operation}('${storeName}'): no key serde for the store`,
        'pass { key: serde } to groupByKey()/groupBy()',
      );
    }
    if (options.value === undefined) {
      throw new TopologyError(
        `${operation}('${storeName}'): no value serde for the aggregate`,
        'pass { value: Serdes.json() } (or another serde)',
      );
    }
    graph.addStore({
      name: storeName,
      type: 'key-value',
      keySerde: this.keySerde as Serde<unknown>,
      valueSerde: options.value as Serde<unknown>,
      changelog: true,
      storeType: checkStoreType(options.store, `store '${storeName}'`),
    });
    const supplier: ProcessorSupplier<K, V, K, VA> = (context) => {
      const store = context.getStateStore<KeyValueStore<K, VA>>(storeName);
      return {
        process: async (record) => {
          if (record.key === null || record.key === undefined) {
            throw new TopologyError(
              `${operation}('${storeName}'): a record with a null key cannot be aggregated`,
            );
          }
          const next = aggregator(record.key, record.value, (await store.get(record.key)) ?? initializer());
          store.put(record.key, next);
          context.forward({ ...record, value: next });
        },
      };
    };
    const node = this.stream.chain<K, VA>(
      operation,
      'KSTREAM-AGGREGATE',
      supplier as ProcessorSupplier<unknown, unknown, unknown, unknown>,
      { name: storeName },
      { key: this.keySerde, value: options.value },
      false,
      [storeName],
    );
    return new KTable(node, storeName);
  }
}

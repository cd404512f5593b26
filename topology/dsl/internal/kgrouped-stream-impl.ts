import { TopologyError } from '../../errors.js';
import type { ProcessorSupplier } from '../../processor.js';
import { numberSerde } from '../../serdes/builtin.js';
import type { Serde } from '../../serdes/serde.js';
import { type KeyValueStore, readStored } from '../../state/store.js';
import { checkStoreType } from '../../state/store-type.js';
import type { SessionWindows, SlidingWindows, TimeWindows } from '../../windows/windows.js';
import type { AggregateOptions, KGroupedStream } from '../kgrouped-stream.js';
import type { Named } from '../kstream.js';
import type { KTable } from '../ktable.js';
import type { SessionWindowedKStream, TimeWindowedKStream } from '../windowed-kstream.js';
import { KTableImpl } from './ktable-impl.js';
import type { AnySupplier, StreamNode } from './stream-node.js';
import { SessionWindowedKStreamImpl, TimeWindowedKStreamImpl } from './windowed-kstream-impl.js';

/** Aggregations per key: a changelogged key-value store and a processor after the grouped stream's node. */
export class KGroupedStreamImpl<K, V> implements KGroupedStream<K, V> {
  readonly #node: StreamNode<K, V>;
  readonly #keySerde: Serde<K> | undefined;
  readonly #valueSerde: Serde<V> | undefined;

  constructor(node: StreamNode<K, V>, keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined) {
    this.#node = node;
    this.#keySerde = keySerde;
    this.#valueSerde = valueSerde;
  }

  windowedBy(windows: TimeWindows | SlidingWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  windowedBy(
    windows: TimeWindows | SlidingWindows | SessionWindows,
  ): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> {
    return windows.kind === 'session'
      ? new SessionWindowedKStreamImpl(this.#node, this.#keySerde, windows)
      : new TimeWindowedKStreamImpl(this.#node, this.#keySerde, this.#valueSerde, windows);
  }

  count(options: Named = {}): KTable<K, number> {
    return this.#aggregate<number>(
      () => 0,
      (_k, _v, n) => n + 1,
      { ...options, value: numberSerde as Serde<number> },
      'count',
    );
  }

  reduce(reducer: (aggregate: V, value: V, key: K) => V, options: Named = {}): KTable<K, V> {
    if (this.#valueSerde === undefined) {
      throw new TopologyError(
        'reduce(): the stream has no value serde for the store',
        'pass { value: serde } to groupByKey()/groupBy()',
      );
    }
    return this.#aggregate<V | undefined>(
      () => undefined,
      (key, value, agg) => (agg === undefined ? value : reducer(agg, value, key)),
      { ...options, value: this.#valueSerde as Serde<V | undefined> },
      'reduce',
    ) as KTable<K, V>;
  }

  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: AggregateOptions<VA> = {},
  ): KTable<K, VA> {
    return this.#aggregate(initializer, aggregator, options, 'aggregate');
  }

  #aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: AggregateOptions<VA>,
    operation: string,
  ): KTable<K, VA> {
    const { graph } = this.#node;
    const storeName = options.name ?? this.#node.defaultName(operation);
    const keySerde = this.#keySerde;
    if (keySerde === undefined) {
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
      keySerde: keySerde as Serde<unknown>,
      valueSerde: options.value as Serde<unknown>,
      changelog: true,
      storeType: checkStoreType(options.store, `store '${storeName}'`),
      // grouped by key: the records' key, after the repartition when there is one
      keyedByInput: true,
    });
    const supplier: ProcessorSupplier<K, V, K, VA> = (context) => {
      const store = context.getStateStore<KeyValueStore<K, VA>>(storeName);
      return {
        // synchronous when the key's aggregate is in memory (a memory store, or read ahead)
        process: (record) => {
          const key = record.key;
          if (key === null || key === undefined) {
            throw new TopologyError(
              `${operation}('${storeName}'): a record with a null key cannot be aggregated`,
            );
          }
          return readStored(store, key, (current) => {
            const next = aggregator(key, record.value, current ?? initializer());
            store.put(key, next);
            context.forward({ ...record, value: next });
          });
        },
      };
    };
    const updates = this.#node.chain<K, VA>(
      operation,
      'KSTREAM-AGGREGATE',
      supplier as AnySupplier,
      { name: storeName },
      { key: keySerde, value: options.value },
      false,
      [storeName],
    );
    return new KTableImpl(updates, storeName);
  }
}

import { TopologyError } from '../../errors.js';
import { numberSerde } from '../../serdes/builtin.js';
import type { Serde } from '../../serdes/serde.js';
import { checkStoreType } from '../../state/store-type.js';
import { timestampedSerde } from '../../windows/timestamped-serde.js';
import {
  type Aggregation,
  sessionWindowAggregator,
  slidingWindowAggregator,
  timeWindowAggregator,
} from '../../windows/window-aggregators.js';
import { windowedSerde } from '../../windows/windowed-serde.js';
import type {
  SessionWindows,
  SlidingWindows,
  TimeWindows,
  Windowed,
  WindowSpec,
} from '../../windows/windows.js';
import type { AggregateOptions } from '../kgrouped-stream.js';
import type { KTable } from '../ktable.js';
import type {
  SessionWindowedKStream,
  TimeWindowedKStream,
  WindowedStoreOptions,
} from '../windowed-kstream.js';
import { KTableImpl } from './ktable-impl.js';
import type { AnySupplier, StreamNode } from './stream-node.js';

/** What a windowed aggregation's processor is built from. */
interface WindowedStore<K> {
  readonly name: string;
  readonly keySerde: Serde<K>;
}

/**
 * The store a window kind keeps: time windows are plain key-value entries
 * under a windowed key; sliding windows add each window's latest record time
 * to the value; sessions need range lookups per key.
 */
function storeLayout<K, VA>(spec: WindowSpec, keySerde: Serde<K>, valueSerde: Serde<VA>) {
  switch (spec.kind) {
    case 'session':
      return { type: 'session' as const, keySerde: keySerde as Serde<unknown>, valueSerde };
    case 'sliding':
      return {
        type: 'key-value' as const,
        keySerde: windowedSerde(keySerde),
        valueSerde: timestampedSerde(valueSerde),
      };
    case 'time':
      return { type: 'key-value' as const, keySerde: windowedSerde(keySerde), valueSerde };
  }
}

/** Builds the store and processor of a windowed aggregation; shared by every window kind. */
function windowedAggregate<K, V, VA>(
  node: StreamNode<K, V>,
  keySerde: Serde<K> | undefined,
  spec: WindowSpec,
  operation: string,
  options: AggregateOptions<VA>,
  makeSupplier: (store: WindowedStore<K>) => AnySupplier,
): KTable<Windowed<K>, VA> {
  const storeName = options.name ?? node.defaultName(`${spec.kind}-${operation}`);
  if (keySerde === undefined)
    throw new TopologyError(
      `${operation}('${storeName}'): no key serde for the window store`,
      'pass { key: serde } to groupByKey()/groupBy()',
    );
  if (options.value === undefined)
    throw new TopologyError(
      `${operation}('${storeName}'): no value serde for the aggregate`,
      'pass { value: Serdes.json() } (or another serde)',
    );
  const windowedKeys = windowedSerde(keySerde);
  const layout = storeLayout(spec, keySerde, options.value);
  node.graph.addStore({
    name: storeName,
    type: layout.type,
    keySerde: layout.keySerde as Serde<unknown>,
    valueSerde: layout.valueSerde as Serde<unknown>,
    changelog: true,
    storeType: checkStoreType(options.store, `store '${storeName}'`),
    // past this, no record that is not late can reach the window (sliding windows look back one time difference)
    windowRetentionMs:
      spec.kind === 'session'
        ? spec.inactivityGapMs + spec.graceMs
        : spec.kind === 'sliding'
          ? // + 1: a record whose windows ended diff + grace ago may still have an open right
            // window [t + 1, t + 1 + diff] to create (test: 'still creates an open right window…')
            spec.timeDifferenceMs + spec.graceMs + 1
          : spec.graceMs,
  });
  const updates = node.chain<Windowed<K>, VA>(
    `${operation} (${spec.describe()})`,
    'KSTREAM-WINDOWED-AGGREGATE',
    makeSupplier({ name: storeName, keySerde }),
    { name: storeName },
    { key: windowedKeys, value: options.value },
    false,
    [storeName],
  );
  return new KTableImpl(updates, storeName, {
    // how long after its end a window can still change: a session can be extended for a gap after its end
    graceMs: spec.kind === 'session' ? spec.inactivityGapMs + spec.graceMs : spec.graceMs,
    // session and sliding windows include their end: they close only once stream time is past end + grace
    inclusiveEnd: spec.kind !== 'time',
    keySerde: windowedKeys,
    valueSerde: options.value,
  });
}

export class TimeWindowedKStreamImpl<K, V> implements TimeWindowedKStream<K, V> {
  readonly #node: StreamNode<K, V>;
  readonly #keySerde: Serde<K> | undefined;
  readonly #valueSerde: Serde<V> | undefined;
  readonly #windows: TimeWindows | SlidingWindows;

  constructor(
    node: StreamNode<K, V>,
    keySerde: Serde<K> | undefined,
    valueSerde: Serde<V> | undefined,
    windows: TimeWindows | SlidingWindows,
  ) {
    this.#node = node;
    this.#keySerde = keySerde;
    this.#valueSerde = valueSerde;
    this.#windows = windows;
  }

  count(options: WindowedStoreOptions = {}): KTable<Windowed<K>, number> {
    return this.#aggregate(
      () => 0,
      (_k, _v, n) => n + 1,
      { ...options, value: numberSerde as Serde<number> },
      'count',
    );
  }

  reduce(reducer: (aggregate: V, value: V) => V, options: WindowedStoreOptions = {}): KTable<Windowed<K>, V> {
    const value = this.#valueSerde;
    if (value === undefined)
      throw new TopologyError(
        'reduce(): the stream has no value serde for the window store',
        'pass { value: serde } to groupByKey()',
      );
    return this.#aggregate<V | undefined>(
      () => undefined,
      (_k, v, agg) => (agg === undefined ? v : reducer(agg, v)),
      { ...options, value: value as Serde<V | undefined> },
      'reduce',
    ) as KTable<Windowed<K>, V>;
  }

  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: AggregateOptions<VA> = {},
  ): KTable<Windowed<K>, VA> {
    return this.#aggregate(initializer, aggregator, options, 'aggregate');
  }

  #aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: AggregateOptions<VA>,
    operation: string,
  ): KTable<Windowed<K>, VA> {
    const aggregation: Aggregation<K, V, VA> = { initializer, aggregator };
    const windows = this.#windows;
    return windowedAggregate(this.#node, this.#keySerde, windows, operation, options, (store) =>
      windows.kind === 'sliding'
        ? (slidingWindowAggregator(windows, aggregation, store.name, (key) =>
            (store.keySerde.serialize(key, store.name) ?? Buffer.alloc(0)).toString('latin1'),
          ) as unknown as AnySupplier)
        : (timeWindowAggregator(windows, aggregation, store.name) as unknown as AnySupplier),
    );
  }
}

export class SessionWindowedKStreamImpl<K, V> implements SessionWindowedKStream<K, V> {
  readonly #node: StreamNode<K, V>;
  readonly #keySerde: Serde<K> | undefined;
  readonly #windows: SessionWindows;

  constructor(node: StreamNode<K, V>, keySerde: Serde<K> | undefined, windows: SessionWindows) {
    this.#node = node;
    this.#keySerde = keySerde;
    this.#windows = windows;
  }

  count(options: WindowedStoreOptions = {}): KTable<Windowed<K>, number> {
    return this.#aggregate(
      () => 0,
      (_k, _v, n) => n + 1,
      (_k, a, b) => a + b,
      { ...options, value: numberSerde as Serde<number> },
      'count',
    );
  }

  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, left: VA, right: VA) => VA,
    options: AggregateOptions<VA> = {},
  ): KTable<Windowed<K>, VA> {
    return this.#aggregate(initializer, aggregator, merger, options, 'aggregate');
  }

  #aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, left: VA, right: VA) => VA,
    options: AggregateOptions<VA>,
    operation: string,
  ): KTable<Windowed<K>, VA> {
    const aggregation = { initializer, aggregator, merger };
    const windows = this.#windows;
    return windowedAggregate(
      this.#node,
      this.#keySerde,
      windows,
      operation,
      options,
      (store) => sessionWindowAggregator(windows, aggregation, store.name) as unknown as AnySupplier,
    );
  }
}

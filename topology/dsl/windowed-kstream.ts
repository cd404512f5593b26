import { TopologyError } from '../errors.js';
import type { ProcessorSupplier } from '../processor.js';
import { numberSerde } from '../serdes/builtin.js';
import type { Serde } from '../serdes/serde.js';
import { checkStoreType } from '../state/store-type.js';
import { timestampedSerde } from '../windows/timestamped-serde.js';
import {
  type Aggregation,
  sessionWindowAggregator,
  slidingWindowAggregator,
  timeWindowAggregator,
} from '../windows/window-aggregators.js';
import { windowedSerde } from '../windows/windowed-serde.js';
import type {
  SessionWindows,
  SlidingWindows,
  TimeWindows,
  Windowed,
  WindowSpec,
} from '../windows/windows.js';
import type { AggregateOptions } from './kgrouped-stream.js';
import type { KStream } from './kstream.js';
import { KTable } from './ktable.js';

type AnySupplier = ProcessorSupplier<unknown, unknown, unknown, unknown>;

/** Options of count() and reduce(): the store's name and type; its value serde is implied. */
export type WindowedStoreOptions = Omit<AggregateOptions<unknown>, 'value'>;

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
  stream: KStream<K, V>,
  keySerde: Serde<K> | undefined,
  spec: WindowSpec,
  operation: string,
  options: AggregateOptions<VA>,
  makeSupplier: (store: WindowedStore<K>) => AnySupplier,
): KTable<Windowed<K>, VA> {
  const { graph, path } = stream.position;
  const storeName = options.name ?? `${path}-${spec.kind}-${operation}`.replace(/\./g, '-');
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
  graph.addStore({
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
  const updates = stream.chain<Windowed<K>, VA>(
    `${operation} (${spec.describe()})`,
    'KSTREAM-WINDOWED-AGGREGATE',
    makeSupplier({ name: storeName, keySerde }),
    { name: storeName },
    { key: windowedKeys, value: options.value },
    false,
    [storeName],
  );
  return new KTable(updates, storeName, {
    // how long after its end a window can still change: a session can be extended for a gap after its end
    graceMs: spec.kind === 'session' ? spec.inactivityGapMs + spec.graceMs : spec.graceMs,
    // session and sliding windows include their end: they close only once stream time is past end + grace
    inclusiveEnd: spec.kind !== 'time',
    keySerde: windowedKeys,
    valueSerde: options.value,
  });
}

/**
 * A grouped stream in fixed-size windows: tumbling or hopping (`TimeWindows`)
 * or sliding (`SlidingWindows`), as Kafka Streams' TimeWindowedKStream.
 * Aggregations are stateful: a window store `<name>` with changelog
 * `<applicationId>-<name>-changelog`. They emit one update per changed window.
 * A sliding window's store value is a `TimestampedAggregate` (the aggregate
 * and the window's latest record time), as in Kafka Streams' timestamped
 * window stores; that is what an interactive query of the store returns.
 */
export class TimeWindowedKStream<K, V> {
  /** @internal */
  constructor(
    private readonly stream: KStream<K, V>,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly windows: TimeWindows | SlidingWindows,
  ) {}

  /**
   * Counts records per key and window.
   * @example grouped.windowedBy(TimeWindows.ofSizeAndGrace(60_000, 5_000)).count({ name: 'clicks-per-minute' })
   * @example grouped.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(60_000, 5_000)).count({ name: 'clicks-within-a-minute' })
   */
  count(options: WindowedStoreOptions = {}): KTable<Windowed<K>, number> {
    return this.aggregate(
      () => 0,
      (_k, _v, n) => n + 1,
      { ...options, value: numberSerde as Serde<number> },
      'count',
    );
  }

  /** Combines the values of each key and window with `reducer`; a window's first value is its initial aggregate. */
  reduce(reducer: (aggregate: V, value: V) => V, options: WindowedStoreOptions = {}): KTable<Windowed<K>, V> {
    const value = this.valueSerde;
    if (value === undefined)
      throw new TopologyError(
        'reduce(): the stream has no value serde for the window store',
        'pass { value: serde } to groupByKey()',
      );
    return this.aggregate<V | undefined>(
      () => undefined,
      (_k, v, agg) => (agg === undefined ? v : reducer(agg, v)),
      { ...options, value: value as Serde<V | undefined> },
      'reduce',
    ) as KTable<Windowed<K>, V>;
  }

  /**
   * Folds the values of each key and window into an aggregate that starts at `initializer()`.
   * @example grouped.windowedBy(windows).aggregate(() => ({ n: 0 }), (key, value, agg) => ({ n: agg.n + 1 }), { value: Serdes.json() })
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: AggregateOptions<VA> = {},
    operation = 'aggregate',
  ): KTable<Windowed<K>, VA> {
    const aggregation: Aggregation<K, V, VA> = { initializer, aggregator };
    const windows = this.windows;
    return windowedAggregate(this.stream, this.keySerde, windows, operation, options, (store) =>
      windows.kind === 'sliding'
        ? (slidingWindowAggregator(windows, aggregation, store.name, (key) =>
            (store.keySerde.serialize(key, store.name) ?? Buffer.alloc(0)).toString('latin1'),
          ) as unknown as AnySupplier)
        : (timeWindowAggregator(windows, aggregation, store.name) as unknown as AnySupplier),
    );
  }
}

/**
 * A grouped stream in session windows. A record within the inactivity gap of
 * one or more sessions of its key merges them; the merged-away sessions are
 * retracted downstream with null values.
 */
export class SessionWindowedKStream<K, V> {
  /** @internal */
  constructor(
    private readonly stream: KStream<K, V>,
    private readonly keySerde: Serde<K> | undefined,
    private readonly windows: SessionWindows,
  ) {}

  count(options: WindowedStoreOptions = {}): KTable<Windowed<K>, number> {
    return this.aggregate(
      () => 0,
      (_k, _v, n) => n + 1,
      (_k, a, b) => a + b,
      { ...options, value: numberSerde as Serde<number> },
      'count',
    );
  }

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
    options: AggregateOptions<VA> = {},
    operation = 'aggregate',
  ): KTable<Windowed<K>, VA> {
    const aggregation = { initializer, aggregator, merger };
    return windowedAggregate(
      this.stream,
      this.keySerde,
      this.windows,
      operation,
      options,
      (store) => sessionWindowAggregator(this.windows, aggregation, store.name) as unknown as AnySupplier,
    );
  }
}

import { TopologyError } from '../errors.js';
import type { ProcessorSupplier } from '../processor.js';
import { numberSerde } from '../serdes/builtin.js';
import type { Serde } from '../serdes/serde.js';
import {
  type Aggregation,
  sessionWindowAggregator,
  timeWindowAggregator,
} from '../windows/window-aggregators.js';
import { windowedSerde } from '../windows/windowed-serde.js';
import type { SessionWindows, TimeWindows, Windowed } from '../windows/windows.js';
import type { AggregateOptions } from './kgrouped-stream.js';
import type { KStream, Named } from './kstream.js';
import { KTable } from './ktable.js';

type AnySupplier = ProcessorSupplier<unknown, unknown, unknown, unknown>;

/** Builds the store and processor of a windowed aggregation; shared by both window kinds. */
function windowedAggregate<K, V, VA>(
  stream: KStream<K, V>,
  keySerde: Serde<K> | undefined,
  spec: { kind: 'time' | 'session'; graceMs: number; describe(): string },
  operation: string,
  options: AggregateOptions<VA>,
  makeSupplier: (storeName: string) => AnySupplier,
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
  graph.addStore({
    name: storeName,
    // time windows are plain key-value entries under a windowed key; sessions need range lookups per key
    type: spec.kind === 'session' ? 'session' : 'key-value',
    keySerde: (spec.kind === 'session' ? keySerde : windowedKeys) as Serde<unknown>,
    valueSerde: options.value as Serde<unknown>,
    changelog: true,
  });
  const updates = stream.chain<Windowed<K>, VA>(
    `${operation} (${spec.describe()})`,
    'KSTREAM-WINDOWED-AGGREGATE',
    makeSupplier(storeName),
    { name: storeName },
    { key: windowedKeys, value: options.value },
    false,
    [storeName],
  );
  return new KTable(updates, storeName, {
    graceMs: spec.graceMs,
    sessions: spec.kind === 'session',
    keySerde: windowedKeys,
    valueSerde: options.value,
  });
}

/**
 * A grouped stream in fixed time windows (tumbling or hopping). Aggregations
 * are stateful: a window store `<name>` with changelog `<applicationId>-<name>-changelog`.
 */
export class TimeWindowedKStream<K, V> {
  /** @internal */
  constructor(
    private readonly stream: KStream<K, V>,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly windows: TimeWindows,
  ) {}

  /** @example grouped.windowedBy(TimeWindows.ofSizeAndGrace(60_000, 5_000)).count({ name: 'clicks-per-minute' }) */
  count(options: Named = {}): KTable<Windowed<K>, number> {
    return this.aggregate(
      () => 0,
      (_k, _v, n) => n + 1,
      { ...options, value: numberSerde as Serde<number> },
      'count',
    );
  }

  reduce(reducer: (aggregate: V, value: V) => V, options: Named = {}): KTable<Windowed<K>, V> {
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

  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: AggregateOptions<VA> = {},
    operation = 'aggregate',
  ): KTable<Windowed<K>, VA> {
    const aggregation: Aggregation<K, V, VA> = { initializer, aggregator };
    return windowedAggregate(
      this.stream,
      this.keySerde,
      this.windows,
      operation,
      options,
      (store) => timeWindowAggregator(this.windows, aggregation, store) as unknown as AnySupplier,
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

  count(options: Named = {}): KTable<Windowed<K>, number> {
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
      (store) => sessionWindowAggregator(this.windows, aggregation, store) as unknown as AnySupplier,
    );
  }
}

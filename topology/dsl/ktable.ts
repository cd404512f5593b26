import { TopologyError } from '../errors.js';
import type { ProcessorSupplier } from '../processor.js';
import type { Serde } from '../serdes/serde.js';
import { suppressUntilWindowCloses } from '../windows/suppress.js';
import type { Windowed } from '../windows/windows.js';
import type { KStream, Named } from './kstream.js';
import { tableFilterSupplier, tableMapValuesSupplier } from './table-operators.js';

/** What a windowed table knows of its windows, for suppress(). */
export interface TableWindowing<K, V> {
  readonly graceMs: number;
  /** Session and sliding windows include their end, so they close one millisecond later. */
  readonly inclusiveEnd: boolean;
  readonly keySerde: Serde<K>;
  readonly valueSerde: Serde<V>;
}

/** How much suppress may buffer: Kafka Streams' strict buffer config (final results never emit early). */
export interface SuppressBufferConfig {
  /**
   * Windows buffered at most. When a new window would exceed it the task
   * fails (Kafka Streams' `shutDownWhenFull`, the only choice for final
   * results: emitting early would break "one final per window"). Default: unbounded.
   */
  readonly maxRecords?: number;
}

/** Emission strategies for suppress(). */
export const Suppressed = {
  /** One final result per window, when stream time passes the window's end plus grace. */
  untilWindowCloses: (buffer: SuppressBufferConfig = {}) => {
    const { maxRecords } = buffer;
    if (maxRecords !== undefined && (!Number.isInteger(maxRecords) || maxRecords <= 0))
      throw new TopologyError(
        `Suppressed.untilWindowCloses(): maxRecords must be a positive whole number, got ${maxRecords}`,
      );
    return { kind: 'untilWindowCloses' as const, maxRecords };
  },
};

/**
 * A changelog view of a keyed aggregate: the latest value per key, and a stream
 * of its updates. Queryable through its store name.
 */
export class KTable<K, V> {
  /** @internal */
  constructor(
    private readonly updates: KStream<K, V>,
    /** The state store holding the table, for joins and interactive queries; undefined for a derived table. */
    readonly storeName: string | undefined,
    private readonly windowing?: TableWindowing<K, V>,
  ) {}

  /** A table of `fn(value)` per key; tombstones pass through. Not materialised: join against the source table. */
  mapValues<V2>(fn: (value: V, key: K) => V2, options: Named & { value?: Serde<V2> } = {}): KTable<K, V2> {
    const stream = this.updates.chain<K, V2>(
      'table-mapValues',
      'KTABLE-MAPVALUES',
      tableMapValuesSupplier(fn),
      options,
      { key: this.updates.position.serdes.key, value: options.value },
      false,
    );
    return new KTable(stream, undefined);
  }

  /** Keeps the rows that match; a row that stops matching is retracted with a tombstone. Not materialised. */
  filter(predicate: (value: V, key: K) => boolean, options: Named = {}): KTable<K, V> {
    const stream = this.updates.chain<K, V>(
      'table-filter',
      'KTABLE-FILTER',
      tableFilterSupplier(predicate),
      options,
      this.updates.position.serdes,
      false,
    );
    return new KTable(stream, undefined);
  }

  /** Every update to the table as a stream of (key, new value); a null value retracts the key. */
  toStream(): KStream<K, V> {
    return this.updates;
  }

  /**
   * Holds back updates of a windowed table and emits each window's final value
   * once, when the window closes. Stateful: a changelogged buffer store `<name>`.
   * @example counts.suppress(Suppressed.untilWindowCloses(), { name: 'final-counts' }).toStream()
   */
  suppress(strategy: ReturnType<typeof Suppressed.untilWindowCloses>, options: Named = {}): KTable<K, V> {
    if (strategy.kind !== 'untilWindowCloses')
      throw new TopologyError(`suppress(): unknown strategy '${String(strategy.kind)}'`);
    const windowing = this.windowing;
    if (windowing === undefined) {
      throw new TopologyError(
        'suppress(untilWindowCloses) needs a windowed table',
        'use it after windowedBy(...).count()/aggregate()',
      );
    }
    const { graph, path } = this.updates.position;
    const storeName = options.name ?? `${path}-suppress`.replace(/\./g, '-');
    graph.addStore({
      name: storeName,
      type: 'key-value',
      keySerde: windowing.keySerde as Serde<unknown>,
      valueSerde: windowing.valueSerde as Serde<unknown>,
      changelog: true,
    });
    const keyBytes = windowing.keySerde;
    const supplier = suppressUntilWindowCloses<unknown, V>(
      storeName,
      windowing.graceMs,
      (key) => (keyBytes.serialize(key as K, storeName) ?? Buffer.alloc(0)).toString('latin1'),
      windowing.inclusiveEnd,
      strategy.maxRecords,
    );
    const stream = this.updates.chain<K, V>(
      'suppress(untilWindowCloses)',
      'KTABLE-SUPPRESS',
      supplier as unknown as ProcessorSupplier<unknown, unknown, unknown, unknown>,
      { name: storeName },
      { key: windowing.keySerde, value: windowing.valueSerde },
      false,
      [storeName],
    );
    return new KTable(stream, storeName);
  }
}

export type { Windowed };

import { TopologyError } from '../../errors.js';
import type { Serde } from '../../serdes/serde.js';
import { suppressUntilWindowCloses } from '../../windows/suppress.js';
import type { KStream, Named } from '../kstream.js';
import type { KTable, Suppressed } from '../ktable.js';
import { KStreamImpl } from './kstream-impl.js';
import type { AnySupplier, StreamNode } from './stream-node.js';
import { tableFilterSupplier, tableMapValuesSupplier } from './table-operators.js';

/** What a windowed table knows of its windows, for suppress(). */
export interface TableWindowing<K, V> {
  readonly graceMs: number;
  /** Session and sliding windows include their end, so they close one millisecond later. */
  readonly inclusiveEnd: boolean;
  readonly keySerde: Serde<K>;
  readonly valueSerde: Serde<V>;
}

/** A table is the node its updates leave from, plus the store that materialises it (if any). */
export class KTableImpl<K, V> implements KTable<K, V> {
  readonly storeName: string | undefined;
  readonly #node: StreamNode<K, V>;
  readonly #updates: KStream<K, V>;
  readonly #windowing: TableWindowing<K, V> | undefined;

  constructor(updates: StreamNode<K, V>, storeName: string | undefined, windowing?: TableWindowing<K, V>) {
    this.storeName = storeName;
    this.#node = updates;
    this.#updates = new KStreamImpl(updates);
    this.#windowing = windowing;
  }

  mapValues<V2>(fn: (value: V, key: K) => V2, options: Named & { value?: Serde<V2> } = {}): KTable<K, V2> {
    const updates = this.#node.chain<K, V2>(
      'table-mapValues',
      'KTABLE-MAPVALUES',
      tableMapValuesSupplier(fn),
      options,
      { key: this.#node.serdes.key, value: options.value },
      false,
    );
    return new KTableImpl(updates, undefined);
  }

  filter(predicate: (value: V, key: K) => boolean, options: Named = {}): KTable<K, V> {
    const updates = this.#node.chain<K, V>(
      'table-filter',
      'KTABLE-FILTER',
      tableFilterSupplier(predicate),
      options,
      this.#node.serdes,
      false,
    );
    return new KTableImpl(updates, undefined);
  }

  toStream(): KStream<K, V> {
    return this.#updates;
  }

  suppress(strategy: ReturnType<typeof Suppressed.untilWindowCloses>, options: Named = {}): KTable<K, V> {
    if (strategy.kind !== 'untilWindowCloses')
      throw new TopologyError(`suppress(): unknown strategy '${String(strategy.kind)}'`);
    const windowing = this.#windowing;
    if (windowing === undefined) {
      throw new TopologyError(
        'suppress(untilWindowCloses) needs a windowed table',
        'use it after windowedBy(...).count()/aggregate()',
      );
    }
    const { graph } = this.#node;
    const storeName = options.name ?? this.#node.defaultName('suppress');
    graph.addStore({
      name: storeName,
      type: 'key-value',
      keySerde: windowing.keySerde as Serde<unknown>,
      valueSerde: windowing.valueSerde as Serde<unknown>,
      changelog: true,
      // its windows are read in closing order, from the store's index by window end (not from the heap)
      indexedByWindowEnd: true,
    });
    const keyBytes = windowing.keySerde;
    const supplier = suppressUntilWindowCloses<unknown, V>(
      storeName,
      windowing.graceMs,
      (key) => (keyBytes.serialize(key as K, storeName) ?? Buffer.alloc(0)).toString('latin1'),
      windowing.inclusiveEnd,
      strategy.maxRecords,
    );
    const updates = this.#node.chain<K, V>(
      'suppress(untilWindowCloses)',
      'KTABLE-SUPPRESS',
      supplier as unknown as AnySupplier,
      { name: storeName },
      { key: windowing.keySerde, value: windowing.valueSerde },
      false,
      [storeName],
    );
    return new KTableImpl(updates, storeName);
  }
}

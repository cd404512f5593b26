import { TopologyError } from '../../errors.js';
import type { ProcessorSupplier } from '../../processor.js';
import type { Serde } from '../../serdes/serde.js';
import type { BranchedKStream } from '../branched-kstream.js';
import type { KGroupedStream } from '../kgrouped-stream.js';
import type {
  KeyValue,
  KStream,
  Named,
  RepartitionOptions,
  StreamSerdes,
  ToOptions,
  ValueCallback,
} from '../kstream.js';
import type { KTable } from '../ktable.js';
import { BranchedKStreamImpl } from './branched-kstream-impl.js';
import { KGroupedStreamImpl } from './kgrouped-stream-impl.js';
import {
  filterSupplier,
  flatMapSupplier,
  flatMapValuesSupplier,
  mapSupplier,
  mapValuesSupplier,
  peekSupplier,
  selectKeySupplier,
} from './operators.js';
import type { AnySupplier, StreamNode } from './stream-node.js';
import { streamTableJoinSupplier } from './table-operators.js';

/** The KStream the DSL hands out: each operation adds to the graph through its private StreamNode. */
export class KStreamImpl<K, V> implements KStream<K, V> {
  readonly #node: StreamNode<K, V>;

  constructor(node: StreamNode<K, V>) {
    this.#node = node;
  }

  filter(predicate: ValueCallback<K, V, boolean>, options: Named = {}): KStream<K, V> {
    return new KStreamImpl(
      this.#node.chain<K, V>(
        'filter',
        'KSTREAM-FILTER',
        filterSupplier(predicate),
        options,
        this.#node.serdes,
        false,
      ),
    );
  }

  filterNot(predicate: ValueCallback<K, V, boolean>, options: Named = {}): KStream<K, V> {
    return new KStreamImpl(
      this.#node.chain<K, V>(
        'filterNot',
        'KSTREAM-FILTER',
        filterSupplier<K, V>((v, r) => !predicate(v, r)),
        options,
        this.#node.serdes,
        false,
      ),
    );
  }

  mapValues<V2>(fn: ValueCallback<K, V, V2>, options: Named & { value?: Serde<V2> } = {}): KStream<K, V2> {
    return new KStreamImpl(
      this.#node.chain<K, V2>(
        'mapValues',
        'KSTREAM-MAPVALUES',
        mapValuesSupplier(fn),
        options,
        { key: this.#node.serdes.key, value: options.value },
        false,
      ),
    );
  }

  map<K2, V2>(
    fn: ValueCallback<K, V, KeyValue<K2, V2>>,
    options: Named & StreamSerdes<K2, V2> = {},
  ): KStream<K2, V2> {
    return new KStreamImpl(
      this.#node.chain<K2, V2>(
        'map',
        'KSTREAM-MAP',
        mapSupplier(fn),
        options,
        { key: options.key, value: options.value },
        true,
      ),
    );
  }

  selectKey<K2>(fn: ValueCallback<K, V, K2>, options: Named & { key?: Serde<K2> } = {}): KStream<K2, V> {
    return new KStreamImpl(
      this.#node.chain<K2, V>(
        'selectKey',
        'KSTREAM-KEY-SELECT',
        selectKeySupplier(fn),
        options,
        { key: options.key, value: this.#node.serdes.value },
        true,
      ),
    );
  }

  flatMap<K2, V2>(
    fn: ValueCallback<K, V, Iterable<KeyValue<K2, V2>>>,
    options: Named & StreamSerdes<K2, V2> = {},
  ): KStream<K2, V2> {
    return new KStreamImpl(
      this.#node.chain<K2, V2>(
        'flatMap',
        'KSTREAM-FLATMAP',
        flatMapSupplier(fn),
        options,
        { key: options.key, value: options.value },
        true,
      ),
    );
  }

  flatMapValues<V2>(
    fn: ValueCallback<K, V, Iterable<V2>>,
    options: Named & { value?: Serde<V2> } = {},
  ): KStream<K, V2> {
    return new KStreamImpl(
      this.#node.chain<K, V2>(
        'flatMapValues',
        'KSTREAM-FLATMAPVALUES',
        flatMapValuesSupplier(fn),
        options,
        { key: this.#node.serdes.key, value: options.value },
        false,
      ),
    );
  }

  peek(fn: ValueCallback<K, V, void>, options: Named = {}): KStream<K, V> {
    return new KStreamImpl(
      this.#node.chain<K, V>('peek', 'KSTREAM-PEEK', peekSupplier(fn), options, this.#node.serdes, false),
    );
  }

  split(options: Named = {}): BranchedKStream<K, V> {
    return new BranchedKStreamImpl(this.#node, options.name ?? this.#node.graph.newName('KSTREAM-BRANCH'));
  }

  merge(other: KStream<K, V>, options: Named = {}): KStream<K, V> {
    if (!KStreamImpl.#isImpl(other) || other.#node.graph !== this.#node.graph) {
      throw new TopologyError('merge(): both streams must come from the same TopologyBuilder');
    }
    return new KStreamImpl(this.#node.merge(other.#node, options));
  }

  /** A typed guard: plain `instanceof` would widen the stream's types to `any`. */
  static #isImpl<K, V>(stream: KStream<K, V>): stream is KStreamImpl<K, V> {
    return stream instanceof KStreamImpl;
  }

  process<K2, V2>(
    supplier: ProcessorSupplier<K, V, K2, V2>,
    options: Named & StreamSerdes<K2, V2> & { stores?: string[]; keyPreserving?: boolean } = {},
  ): KStream<K2, V2> {
    for (const store of options.stores ?? []) {
      if (!this.#node.graph.stores.has(store)) {
        throw new TopologyError(
          `process(): state store '${store}' is not in this topology`,
          'add it first with builder.addStateStore()',
        );
      }
    }
    const keyPreserving = options.keyPreserving === true;
    return new KStreamImpl(
      this.#node.chain<K2, V2>(
        'process',
        'KSTREAM-PROCESSOR',
        supplier as AnySupplier,
        options,
        {
          key: options.key ?? (keyPreserving ? (this.#node.serdes.key as unknown as Serde<K2>) : undefined),
          value: options.value,
        },
        !keyPreserving,
        options.stores ?? [],
      ),
    );
  }

  to(topic: string, options: ToOptions<K, V> = {}): void {
    this.#node.sinkTo({ kind: 'external', name: topic }, options);
  }

  repartition(options: RepartitionOptions<K, V> = {}): KStream<K, V> {
    return new KStreamImpl(this.#node.repartition(options));
  }

  groupByKey(options: RepartitionOptions<K, V> = {}): KGroupedStream<K, V> {
    const node = this.#node.repartitionRequired ? this.#node.repartition(options) : this.#node;
    return new KGroupedStreamImpl(node, options.key ?? node.serdes.key, options.value ?? node.serdes.value);
  }

  groupBy<K2>(fn: ValueCallback<K, V, K2>, options: RepartitionOptions<K2, V> = {}): KGroupedStream<K2, V> {
    return this.selectKey(fn, { key: options.key }).groupByKey(options);
  }

  join<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT, key: K) => VR,
    options: Named & { value?: Serde<VR> } = {},
  ): KStream<K, VR> {
    return this.#joinTable(table, joiner as (value: V, tableValue: VT | null, key: K) => VR, false, options);
  }

  leftJoin<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT | null, key: K) => VR,
    options: Named & { value?: Serde<VR> } = {},
  ): KStream<K, VR> {
    return this.#joinTable(table, joiner, true, options);
  }

  #joinTable<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT | null, key: K) => VR,
    left: boolean,
    options: Named & { value?: Serde<VR> },
  ): KStream<K, VR> {
    const store = table.storeName;
    if (store === undefined)
      throw new TopologyError(
        'join(): the table is not materialised',
        'join against a table from builder.table() or an aggregation',
      );
    if (this.#node.repartitionRequired)
      throw new TopologyError(
        'join(): the stream was re-keyed; it must be repartitioned first',
        'call .repartition() before the join',
      );
    return new KStreamImpl(
      this.#node.chain<K, VR>(
        left ? 'leftJoin' : 'join',
        'KSTREAM-JOIN',
        streamTableJoinSupplier(store, joiner, left),
        options,
        { key: this.#node.serdes.key, value: options.value },
        false,
        [store],
      ),
    );
  }
}

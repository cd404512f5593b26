import { TopologyError } from '../errors.js';
import type { LogicalGraph, TopicRef } from '../plan/graph.js';
import type { ProcessorSupplier } from '../processor.js';
import type { StreamRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import { BranchedKStream } from './branched-kstream.js';
import { KGroupedStream } from './kgrouped-stream.js';
import type { KTable } from './ktable.js';
import {
  filterSupplier,
  flatMapSupplier,
  flatMapValuesSupplier,
  type KeyValue,
  mapSupplier,
  mapValuesSupplier,
  passThroughSupplier,
  peekSupplier,
  selectKeySupplier,
  type ValueCallback,
} from './operators.js';
import { streamTableJoinSupplier } from './table-operators.js';

/** Serdes a stream carries, and which survive each operation. */
export interface StreamSerdes<K, V> {
  key?: Serde<K> | undefined;
  value?: Serde<V> | undefined;
}

/** Options shared by operations that can be named. Names appear in describe(), metrics and DLQ headers. */
export interface Named {
  name?: string;
}

/** A sink only serialises, so a serde that also accepts null (like `Serdes.number`) fits a non-null stream. */
export interface ToOptions<K, V> extends Named {
  key?: Serde<K> | Serde<K | null>;
  value?: Serde<V> | Serde<V | null>;
}

export interface RepartitionOptions<K, V> extends Named {
  key?: Serde<K>;
  value?: Serde<V>;
  /** Partitions of the repartition topic; default: the most of the upstream source topics. */
  partitions?: number;
}

/**
 * Everything a KStream needs to know about where it sits in the graph.
 * @internal
 */
export interface StreamPosition<K, V> {
  readonly graph: LogicalGraph;
  readonly node: string;
  readonly serdes: StreamSerdes<K, V>;
  /** A key-changing operation happened since the last repartition: a stateful step must repartition first. */
  readonly repartitionRequired: boolean;
  /** The operations from the source, e.g. `raw_events.filter.selectKey`: stable default names for stores and topics. */
  readonly path: string;
}

/**
 * An unbounded stream of key-value records, like Kafka Streams' KStream. Every
 * operation returns a new KStream and adds a node to the topology; nothing runs
 * until the topology is started. Callbacks receive the value first and the whole
 * record (key, timestamp, headers) second.
 */
export class KStream<K, V> {
  /** @internal */
  constructor(readonly position: StreamPosition<K, V>) {}

  /**
   * Keeps the records for which `predicate` is true. Stateless; keeps key and serdes.
   * @example stream.filter((event) => event.eventType !== 'click')
   */
  filter(predicate: ValueCallback<K, V, boolean>, options: Named = {}): KStream<K, V> {
    return this.chain(
      'filter',
      'KSTREAM-FILTER',
      filterSupplier(predicate),
      options,
      this.position.serdes,
      false,
    );
  }

  /** Drops the records for which `predicate` is true. Stateless. */
  filterNot(predicate: ValueCallback<K, V, boolean>, options: Named = {}): KStream<K, V> {
    return this.chain(
      'filterNot',
      'KSTREAM-FILTER',
      filterSupplier<K, V>((v, r) => !predicate(v, r)),
      options,
      this.position.serdes,
      false,
    );
  }

  /**
   * Replaces each value. Stateless; keeps the key (and its serde), so never repartitions.
   * @example stream.mapValues((event) => event.payload)
   */
  mapValues<V2>(fn: ValueCallback<K, V, V2>, options: Named & { value?: Serde<V2> } = {}): KStream<K, V2> {
    return this.chain(
      'mapValues',
      'KSTREAM-MAPVALUES',
      mapValuesSupplier(fn),
      options,
      { key: this.position.serdes.key, value: options.value },
      false,
    );
  }

  /**
   * Replaces key and value. Stateless, but key-changing: a later stateful step repartitions.
   * @example stream.map((e) => ({ key: e.tenantId, value: 1 }))
   */
  map<K2, V2>(
    fn: ValueCallback<K, V, KeyValue<K2, V2>>,
    options: Named & StreamSerdes<K2, V2> = {},
  ): KStream<K2, V2> {
    return this.chain(
      'map',
      'KSTREAM-MAP',
      mapSupplier(fn),
      options,
      { key: options.key, value: options.value },
      true,
    );
  }

  /**
   * Sets a new key computed from the record. Stateless, key-changing; keeps the value serde.
   * @example stream.selectKey((event) => event.tenantId)
   */
  selectKey<K2>(fn: ValueCallback<K, V, K2>, options: Named & { key?: Serde<K2> } = {}): KStream<K2, V> {
    return this.chain(
      'selectKey',
      'KSTREAM-KEY-SELECT',
      selectKeySupplier(fn),
      options,
      { key: options.key, value: this.position.serdes.value },
      true,
    );
  }

  /** Turns each record into zero or more records. Stateless, key-changing. */
  flatMap<K2, V2>(
    fn: ValueCallback<K, V, Iterable<KeyValue<K2, V2>>>,
    options: Named & StreamSerdes<K2, V2> = {},
  ): KStream<K2, V2> {
    return this.chain(
      'flatMap',
      'KSTREAM-FLATMAP',
      flatMapSupplier(fn),
      options,
      { key: options.key, value: options.value },
      true,
    );
  }

  /** Turns each value into zero or more values under the same key. Stateless; keeps the key. */
  flatMapValues<V2>(
    fn: ValueCallback<K, V, Iterable<V2>>,
    options: Named & { value?: Serde<V2> } = {},
  ): KStream<K, V2> {
    return this.chain(
      'flatMapValues',
      'KSTREAM-FLATMAPVALUES',
      flatMapValuesSupplier(fn),
      options,
      { key: this.position.serdes.key, value: options.value },
      false,
    );
  }

  /** Calls `fn` for each record and passes it on unchanged (logging, counting). Stateless. */
  peek(fn: ValueCallback<K, V, void>, options: Named = {}): KStream<K, V> {
    return this.chain('peek', 'KSTREAM-PEEK', peekSupplier(fn), options, this.position.serdes, false);
  }

  /**
   * Routes each record to the first branch whose predicate holds.
   * @example
   * const { errors, rest } = stream.split()
   *   .branch((e) => e.eventType === 'error', 'errors')
   *   .defaultBranch('rest');
   */
  split(options: Named = {}): BranchedKStream<K, V> {
    return new BranchedKStream(this, options.name ?? this.position.graph.newName('KSTREAM-BRANCH'));
  }

  /** Interleaves this stream with another of the same types. Stateless. */
  merge(other: KStream<K, V>, options: Named = {}): KStream<K, V> {
    if (other.position.graph !== this.position.graph) {
      throw new TopologyError('merge(): both streams must come from the same TopologyBuilder');
    }
    const { graph } = this.position;
    const name = options.name ?? graph.newName('KSTREAM-MERGE');
    graph.add({
      kind: 'processor',
      name,
      operation: 'merge',
      parents: [this.position.node, other.position.node],
      supplier: passThroughSupplier,
      stores: [],
    });
    return new KStream<K, V>({
      graph,
      node: name,
      serdes: {
        key: this.position.serdes.key ?? other.position.serdes.key,
        value: this.position.serdes.value ?? other.position.serdes.value,
      },
      repartitionRequired: this.position.repartitionRequired || other.position.repartitionRequired,
      path: `${this.position.path}.merge`,
    });
  }

  /**
   * Runs a custom processor: an RxJS operator built per task from its context,
   * with access to the named state stores. Stateful if it uses stores; treated
   * as key-changing unless `keyPreserving` is set.
   * @example
   * stream.process((ctx) => map((r) => ({ ...r, value: enrich(r.value) })), { name: 'enrich', keyPreserving: true })
   */
  process<K2, V2>(
    supplier: ProcessorSupplier<K, V, K2, V2>,
    options: Named & StreamSerdes<K2, V2> & { stores?: string[]; keyPreserving?: boolean } = {},
  ): KStream<K2, V2> {
    for (const store of options.stores ?? []) {
      if (!this.position.graph.stores.has(store)) {
        throw new TopologyError(
          `process(): state store '${store}' is not in this topology`,
          'add it first with builder.addStateStore()',
        );
      }
    }
    const keyPreserving = options.keyPreserving === true;
    return this.chain(
      'process',
      'KSTREAM-PROCESSOR',
      supplier as ProcessorSupplier<unknown, unknown, unknown, unknown>,
      options,
      {
        key: options.key ?? (keyPreserving ? (this.position.serdes.key as unknown as Serde<K2>) : undefined),
        value: options.value,
      },
      !keyPreserving,
      options.stores ?? [],
    );
  }

  /**
   * Writes every record to `topic`. Needs key and value serdes, carried or given.
   * Records are partitioned by murmur2 of the key bytes, like Kafka's producer.
   */
  to(topic: string, options: ToOptions<K, V> = {}): void {
    this.sinkTo({ kind: 'external', name: topic }, options);
  }

  /**
   * Writes the stream through an internal topic `<applicationId>-<name>-repartition`
   * and reads it back, so that records are partitioned by their current key.
   * Always starts a new sub-topology.
   */
  repartition(options: RepartitionOptions<K, V> = {}): KStream<K, V> {
    const name = options.name ?? `${this.position.path}-repartition`.replace(/\./g, '-');
    const keySerde = options.key ?? this.position.serdes.key;
    const valueSerde = options.value ?? this.position.serdes.value;
    const { graph } = this.position;
    graph.addRepartitionTopic({ name: `${name}-repartition`, partitions: options.partitions });
    const topic: TopicRef = { kind: 'internal', name: `${name}-repartition` };
    this.sinkTo(topic, { key: keySerde, value: valueSerde, name: `${name}-repartition-sink` });
    const source = graph.add({
      kind: 'source',
      name: `${name}-repartition-source`,
      topics: [topic],
      keySerde: keySerde as Serde<unknown>,
      valueSerde: valueSerde as Serde<unknown>,
      timestampExtractor: undefined,
    });
    return new KStream<K, V>({
      graph,
      node: source.name,
      serdes: { key: keySerde, value: valueSerde },
      repartitionRequired: false,
      path: name,
    });
  }

  /**
   * Groups records by their current key, for count/reduce/aggregate. Repartitions
   * first if the key was changed upstream.
   * @example stream.selectKey((e) => e.tenantId).groupByKey().count({ name: 'events-per-tenant' })
   */
  groupByKey(options: RepartitionOptions<K, V> = {}): KGroupedStream<K, V> {
    const stream = this.position.repartitionRequired ? this.repartition(options) : this;
    return new KGroupedStream(
      stream,
      options.key ?? stream.position.serdes.key,
      options.value ?? stream.position.serdes.value,
    );
  }

  /** Groups by a new key computed from each record. Always repartitions. */
  groupBy<K2>(fn: ValueCallback<K, V, K2>, options: RepartitionOptions<K2, V> = {}): KGroupedStream<K2, V> {
    return this.selectKey(fn, { key: options.key }).groupByKey(options);
  }

  private sinkTo(topic: TopicRef, options: ToOptions<K, V>): void {
    const keySerde = options.key ?? this.position.serdes.key;
    const valueSerde = options.value ?? this.position.serdes.value;
    const where = topic.kind === 'internal' ? `repartition topic '${topic.name}'` : `to('${topic.name}')`;
    if (keySerde === undefined) {
      throw new TopologyError(
        `${where}: the key type changed upstream and no key serde is known`,
        'pass { key: Serdes.string } (or another serde) to this operation or the one that changed the key',
      );
    }
    if (valueSerde === undefined) {
      throw new TopologyError(
        `${where}: the value type changed upstream and no value serde is known`,
        'pass { value: Serdes.json() } (or another serde) to this operation or the one that changed the value',
      );
    }
    const { graph } = this.position;
    graph.add({
      kind: 'sink',
      name: options.name ?? graph.newName('KSTREAM-SINK'),
      parents: [this.position.node],
      topic,
      keySerde: keySerde as Serde<unknown>,
      valueSerde: valueSerde as Serde<unknown>,
    });
  }

  /**
   * Enriches each record with the table's current value for its key; records
   * without a row are dropped. Stateless on the stream side; the table must be
   * co-partitioned with this stream (the runtime reads both in one task).
   * @example events.join(tenants, (event, tenant) => ({ ...event, plan: tenant.plan }))
   */
  join<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT, key: K) => VR,
    options: Named & { value?: Serde<VR> } = {},
  ): KStream<K, VR> {
    return this.joinTable(table, joiner as (value: V, tableValue: VT | null, key: K) => VR, false, options);
  }

  /** Like join, but a record without a row is joined with `null` instead of dropped. */
  leftJoin<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT | null, key: K) => VR,
    options: Named & { value?: Serde<VR> } = {},
  ): KStream<K, VR> {
    return this.joinTable(table, joiner, true, options);
  }

  private joinTable<VT, VR>(
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
    if (this.position.repartitionRequired)
      throw new TopologyError(
        'join(): the stream was re-keyed; it must be repartitioned first',
        'call .repartition() before the join',
      );
    return this.chain<K, VR>(
      left ? 'leftJoin' : 'join',
      'KSTREAM-JOIN',
      streamTableJoinSupplier(store, joiner, left),
      options,
      { key: this.position.serdes.key, value: options.value },
      false,
      [store],
    );
  }

  /** @internal adds a processor node after this one. */
  chain<K2, V2>(
    operation: string,
    prefix: string,
    supplier: ProcessorSupplier<unknown, unknown, unknown, unknown>,
    options: Named,
    serdes: StreamSerdes<K2, V2>,
    keyChanging: boolean,
    stores: string[] = [],
  ): KStream<K2, V2> {
    const { graph } = this.position;
    const name = options.name ?? graph.newName(prefix);
    graph.add({ kind: 'processor', name, operation, parents: [this.position.node], supplier, stores });
    return new KStream<K2, V2>({
      graph,
      node: name,
      serdes,
      repartitionRequired: this.position.repartitionRequired || keyChanging,
      path: `${this.position.path}.${options.name ?? operation}`,
    });
  }
}

export type { KeyValue, StreamRecord, ValueCallback };

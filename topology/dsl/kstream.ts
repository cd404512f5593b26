import type { ProcessorSupplier } from '../processor.js';
import type { StreamRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import type { BranchedKStream } from './branched-kstream.js';
import type { KGroupedStream } from './kgrouped-stream.js';
import type { KTable } from './ktable.js';

/** A DSL callback: the value first, the whole record (key, timestamp, headers) second. */
export type ValueCallback<K, V, R> = (value: V, record: StreamRecord<K, V>) => R;

export interface KeyValue<K, V> {
  key: K;
  value: V;
}

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
  /**
   * A record that the partitioner puts in the partition it was read from
   * stays in its task instead of crossing the topic (no produce, no fetch,
   * no wait for the next fetch cycle); the others cross it as usual. For
   * input already keyed as the new key (e.g. events keyed by user, re-keyed
   * by user after validation) almost nothing crosses. The steps before the
   * repartition must keep no state, and the topic has as many partitions
   * as the tasks that write it. See the README's "Repartition in place".
   */
  inPlace?: boolean;
  /**
   * With `inPlace`: a kept record goes on with its key and value objects
   * themselves, not with what the serdes read back from its bytes (no
   * encoding, no decoding: Flink's object reuse). Only for values the serde
   * round-trips exactly (plain data, no undefined fields, Dates or class
   * instances) that the steps before the repartition do not touch once
   * forwarded: otherwise a kept record and a crossed one could differ.
   */
  shareValues?: boolean;
}

/**
 * An unbounded stream of key-value records, like Kafka Streams' KStream. Every
 * operation returns a new KStream and adds a node to the topology; nothing runs
 * until the topology is started. Callbacks receive the value first and the whole
 * record (key, timestamp, headers) second. Get one from `TopologyBuilder.stream()`.
 */
export interface KStream<K, V> {
  /**
   * Keeps the records for which `predicate` is true. Stateless; keeps key and serdes.
   * @example stream.filter((event) => event.eventType !== 'click')
   */
  filter(predicate: ValueCallback<K, V, boolean>, options?: Named): KStream<K, V>;

  /** Drops the records for which `predicate` is true. Stateless. */
  filterNot(predicate: ValueCallback<K, V, boolean>, options?: Named): KStream<K, V>;

  /**
   * Replaces each value. Stateless; keeps the key (and its serde), so never repartitions.
   * @example stream.mapValues((event) => event.payload)
   */
  mapValues<V2>(fn: ValueCallback<K, V, V2>, options?: Named & { value?: Serde<V2> }): KStream<K, V2>;

  /**
   * Replaces key and value. Stateless, but key-changing: a later stateful step repartitions.
   * @example stream.map((e) => ({ key: e.tenantId, value: 1 }))
   */
  map<K2, V2>(
    fn: ValueCallback<K, V, KeyValue<K2, V2>>,
    options?: Named & StreamSerdes<K2, V2>,
  ): KStream<K2, V2>;

  /**
   * Sets a new key computed from the record. Stateless, key-changing; keeps the value serde.
   * @example stream.selectKey((event) => event.tenantId)
   */
  selectKey<K2>(fn: ValueCallback<K, V, K2>, options?: Named & { key?: Serde<K2> }): KStream<K2, V>;

  /** Turns each record into zero or more records. Stateless, key-changing. */
  flatMap<K2, V2>(
    fn: ValueCallback<K, V, Iterable<KeyValue<K2, V2>>>,
    options?: Named & StreamSerdes<K2, V2>,
  ): KStream<K2, V2>;

  /** Turns each value into zero or more values under the same key. Stateless; keeps the key. */
  flatMapValues<V2>(
    fn: ValueCallback<K, V, Iterable<V2>>,
    options?: Named & { value?: Serde<V2> },
  ): KStream<K, V2>;

  /** Calls `fn` for each record and passes it on unchanged (logging, counting). Stateless. */
  peek(fn: ValueCallback<K, V, void>, options?: Named): KStream<K, V>;

  /**
   * Routes each record to the first branch whose predicate holds.
   * @example
   * const { errors, rest } = stream.split()
   *   .branch((e) => e.eventType === 'error', 'errors')
   *   .defaultBranch('rest');
   */
  split(options?: Named): BranchedKStream<K, V>;

  /** Interleaves this stream with another of the same types, from the same builder. Stateless. */
  merge(other: KStream<K, V>, options?: Named): KStream<K, V>;

  /**
   * Runs a custom processor: an RxJS operator built per task from its context,
   * with access to the named state stores. Stateful if it uses stores; treated
   * as key-changing unless `keyPreserving` is set.
   * @example
   * stream.process((ctx) => map((r) => ({ ...r, value: enrich(r.value) })), { name: 'enrich', keyPreserving: true })
   */
  process<K2, V2>(
    supplier: ProcessorSupplier<K, V, K2, V2>,
    options?: Named & StreamSerdes<K2, V2> & { stores?: string[]; keyPreserving?: boolean },
  ): KStream<K2, V2>;

  /**
   * Writes every record to `topic`. Needs key and value serdes, carried or given.
   * Records are partitioned by murmur2 of the key bytes, like Kafka's producer.
   */
  to(topic: string, options?: ToOptions<K, V>): void;

  /**
   * Writes the stream through an internal topic `<applicationId>-<name>-repartition`
   * and reads it back, so that records are partitioned by their current key.
   * Always starts a new sub-topology.
   */
  repartition(options?: RepartitionOptions<K, V>): KStream<K, V>;

  /**
   * Groups records by their current key, for count/reduce/aggregate. Repartitions
   * first if the key was changed upstream.
   * @example stream.selectKey((e) => e.tenantId).groupByKey().count({ name: 'events-per-tenant' })
   */
  groupByKey(options?: RepartitionOptions<K, V>): KGroupedStream<K, V>;

  /** Groups by a new key computed from each record. Always repartitions. */
  groupBy<K2>(fn: ValueCallback<K, V, K2>, options?: RepartitionOptions<K2, V>): KGroupedStream<K2, V>;

  /**
   * Enriches each record with the table's current value for its key; records
   * without a row are dropped. Stateless on the stream side; the table must be
   * co-partitioned with this stream (the runtime reads both in one task).
   * @example events.join(tenants, (event, tenant) => ({ ...event, plan: tenant.plan }))
   */
  join<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT, key: K) => VR,
    options?: Named & { value?: Serde<VR> },
  ): KStream<K, VR>;

  /** Like join, but a record without a row is joined with `null` instead of dropped. */
  leftJoin<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT | null, key: K) => VR,
    options?: Named & { value?: Serde<VR> },
  ): KStream<K, VR>;
}

export type { StreamRecord };

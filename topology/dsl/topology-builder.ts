import { TopologyError } from '../errors.js';
import { LogicalGraph, type TimestampExtractor } from '../plan/graph.js';
import { compileTopology, type Topology } from '../plan/topology.js';
import type { StreamRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import type { StoreType } from '../state/store.js';
import { checkStoreType } from '../state/store-type.js';
import { KStreamImpl } from './internal/kstream-impl.js';
import { KTableImpl } from './internal/ktable-impl.js';
import { StreamNode } from './internal/stream-node.js';
import { tableSourceSupplier } from './internal/table-operators.js';
import type { KStream } from './kstream.js';
import type { KTable } from './ktable.js';

export interface StreamOptions<K, V> {
  key: Serde<K>;
  value: Serde<V>;
  /**
   * Event time of a record, from its decoded key and value; default: the
   * record's Kafka timestamp. A result that is not a non-negative number sends
   * the record to the dead-letter topic.
   */
  timestamp?: (record: StreamRecord<K, V>) => number;
  name?: string;
}

export interface KeyValueStoreOptions<K, V> {
  key: Serde<K>;
  value: Serde<V>;
  /** Back the store with `<applicationId>-<name>-changelog` (default true). */
  changelog?: boolean;
  /** Where the store keeps its data; default: the application's `defaultStoreType`. */
  store?: StoreType;
  /**
   * The store is keyed by the key of the records its task reads (the topic,
   * or the repartition topic, its processor's sub-topology reads), serialised
   * alike: a RocksDB store then reads each batch's keys ahead in one
   * multi-get, so that the processor's reads of them need no I/O (see
   * RecordProcessor.readAhead for other keys). Default false.
   */
  keyedByInput?: boolean;
}

export interface TableOptions<K, V> extends StreamOptions<K, V> {
  /** Where the table's store keeps its data; default: the application's `defaultStoreType`. */
  store?: StoreType;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Where a topology starts: declare source topics and stores, chain operations
 * on the returned streams, then `build()`. The builder checks its arguments and
 * names the bad one; the logical graph behind it is internal.
 *
 * @example
 * const builder = new TopologyBuilder();
 * builder.stream('raw_events', { key: Serdes.string, value: avroSerde('TelemetryEvent') })
 *   .filter((e) => e.tenantId !== '')
 *   .to('clean_events');
 * const topology = builder.build();
 */
export class TopologyBuilder {
  readonly #graph = new LogicalGraph();
  readonly #sourceTopics = new Set<string>();

  /**
   * Reads a topic as a table: the latest value per key, materialised in the
   * key-value store `<name>` (changelogged). A null value deletes its key.
   * Stateful. Join a stream to it with `KStream.join/leftJoin`: the stream and
   * the table must be co-partitioned (same partition count, same key bytes).
   * @example const tenants = builder.table('tenant_config', { key: Serdes.string, value: Serdes.json<TenantConfig>(), name: 'tenant-config' });
   */
  table<K, V>(topic: string, options: TableOptions<K, V>): KTable<K, V> {
    const storeName = options.name ?? `${topic}-table`;
    const { store: storeType, ...streamOptions } = options;
    const source = this.#source(topic, { ...streamOptions, name: `${storeName}-source` });
    this.#graph.addStore({
      name: storeName,
      type: 'key-value',
      keySerde: options.key as Serde<unknown>,
      valueSerde: options.value as Serde<unknown>,
      changelog: true,
      storeType: checkStoreType(storeType, `store '${storeName}'`),
      keyedByInput: true,
    });
    const updates = source.chain<K, V>(
      'table',
      'KTABLE-SOURCE',
      tableSourceSupplier(storeName),
      { name: storeName },
      { key: options.key, value: options.value },
      false,
      [storeName],
    );
    return new KTableImpl(updates, storeName);
  }

  /** Reads one or more topics as a stream. Each topic may be read by one source only. */
  stream<K, V>(topics: string | string[], options: StreamOptions<K, V>): KStream<K, V> {
    return new KStreamImpl(this.#source(topics, options));
  }

  /** Adds a source node reading `topics`, after checking them and the serdes. */
  #source<K, V>(topics: string | string[], options: StreamOptions<K, V>): StreamNode<K, V> {
    const list = Array.isArray(topics) ? topics : [topics];
    if (list.length === 0) throw new TopologyError('stream(): give at least one topic');
    for (const topic of list) {
      if (!TOPIC_NAME.test(topic)) {
        throw new TopologyError(
          `stream(): '${topic}' is not a valid topic name`,
          'use letters, digits, ".", "_" and "-" (at most 249)',
        );
      }
      if (this.#sourceTopics.has(topic)) {
        throw new TopologyError(
          `stream(): topic '${topic}' is already a source of this topology`,
          'read it once and reuse the KStream',
        );
      }
      this.#sourceTopics.add(topic);
    }
    if (options?.key === undefined || options.value === undefined) {
      throw new TopologyError(
        `stream('${list.join(',')}'): key and value serdes are required`,
        'pass { key: Serdes.string, value: Serdes.json() }',
      );
    }
    const node = this.#graph.add({
      kind: 'source',
      name: options.name ?? this.#graph.newName('KSTREAM-SOURCE'),
      topics: list.map((name) => ({ kind: 'external' as const, name })),
      keySerde: options.key as Serde<unknown>,
      valueSerde: options.value as Serde<unknown>,
      timestampExtractor: options.timestamp as TimestampExtractor | undefined,
    });
    return StreamNode.source<K, V>(
      this.#graph,
      node.name,
      { key: options.key, value: options.value },
      list.join('+'),
    );
  }

  /** Declares a key-value store for custom processors (`process(..., { stores: [name] })`). */
  addStateStore<K, V>(name: string, options: KeyValueStoreOptions<K, V>): this {
    if (!TOPIC_NAME.test(name)) {
      throw new TopologyError(
        `addStateStore(): '${name}' is not a valid store name`,
        'it becomes part of a topic name: use letters, digits, ".", "_" and "-"',
      );
    }
    this.#graph.addStore({
      name,
      type: 'key-value',
      keySerde: options.key as Serde<unknown>,
      valueSerde: options.value as Serde<unknown>,
      changelog: options.changelog ?? true,
      storeType: checkStoreType(options.store, `store '${name}'`),
      keyedByInput: options.keyedByInput === true,
    });
    return this;
  }

  /** Freezes the graph into sub-topologies. */
  build(): Topology {
    return compileTopology(this.#graph);
  }
}

import { TopologyError } from '../errors.js';
import type { ProcessorSupplier } from '../processor.js';
import type { StreamRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import type { StoreType } from '../state/store.js';

/** Picks the event time of a record; by default the record's own timestamp. */
export type TimestampExtractor = (record: StreamRecord<unknown, unknown>) => number;

/**
 * A topic name as written in the DSL. Internal topics are named without the
 * application id, which the runtime prefixes: `<applicationId>-<name>`.
 */
export type TopicRef =
  | { readonly kind: 'external'; readonly name: string }
  | { readonly kind: 'internal'; readonly name: string };

export interface StoreSpec {
  readonly name: string;
  /** `key-value`: keyed by the record key; `session`: sessions per key (the changelog key is windowed). */
  readonly type: 'key-value' | 'session';
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  /** Backed by `<applicationId>-<name>-changelog` and restored from it. */
  readonly changelog: boolean;
  /** Where the store keeps its data; undefined: the application's `defaultStoreType`. */
  readonly storeType?: StoreType | undefined;
  /**
   * Windowed stores: a window is deleted (with a changelog tombstone) once its
   * end plus this is behind stream time, when no record can change it any more:
   * grace for time windows, gap plus grace for sessions.
   */
  readonly windowRetentionMs?: number | undefined;
  /**
   * A store of windowed keys that keeps an index by window end (to read its
   * windows in end order) with no retention: its reader deletes them (the
   * suppress buffer). A store with `windowRetentionMs` has the index anyway.
   */
  readonly indexedByWindowEnd?: boolean | undefined;
  /**
   * Key-value stores keyed by the key of the records their task reads (a
   * table's store, an aggregation's after its repartition): a persistent one
   * reads each batch's keys ahead, in one multi-get, from the records' key
   * bytes. The bytes must be what the store's key serde writes.
   */
  readonly keyedByInput?: boolean | undefined;
}

export interface SourceNode {
  readonly kind: 'source';
  readonly name: string;
  readonly topics: readonly TopicRef[];
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly timestampExtractor: TimestampExtractor | undefined;
}

export interface ProcessorNode {
  readonly kind: 'processor';
  readonly name: string;
  /** What the DSL operation was (`filter`, `map`, `process`, ...): for describe() and metrics. */
  readonly operation: string;
  readonly parents: readonly string[];
  readonly supplier: ProcessorSupplier<unknown, unknown, unknown, unknown>;
  readonly stores: readonly string[];
}

export interface SinkNode {
  readonly kind: 'sink';
  readonly name: string;
  readonly parents: readonly string[];
  readonly topic: TopicRef;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  /**
   * A repartition in place (RepartitionOptions.inPlace): the source node that
   * reads this topic back. A record the partitioner puts in the task's own
   * partition goes to that source in the same task instead of to the topic.
   */
  readonly inPlaceSource?: string;
  /** A repartition in place that hands kept records on as objects, not as bytes read back (RepartitionOptions.shareValues). */
  readonly shareInPlaceValues?: boolean;
}

export type GraphNode = SourceNode | ProcessorNode | SinkNode;

export interface RepartitionTopicSpec {
  readonly name: string;
  /** Fixed partition count, or undefined to take the upstream sources' maximum. */
  readonly partitions: number | undefined;
}

/**
 * The logical graph the DSL writes into: nodes in insertion order, stores,
 * internal topics. It checks names are unique; compile() turns it into
 * sub-topologies.
 */
export class LogicalGraph {
  readonly nodes = new Map<string, GraphNode>();
  readonly stores = new Map<string, StoreSpec>();
  readonly repartitionTopics = new Map<string, RepartitionTopicSpec>();
  private counter = 0;

  /** Kafka-Streams-style generated name: `KSTREAM-FILTER-0000000003`. */
  newName(prefix: string): string {
    const name = `${prefix}-${String(this.counter).padStart(10, '0')}`;
    this.counter += 1;
    return name;
  }

  add<N extends GraphNode>(node: N): N {
    if (this.nodes.has(node.name)) {
      throw new TopologyError(
        `a processor named '${node.name}' already exists in this topology`,
        'give each named operation a unique name',
      );
    }
    this.nodes.set(node.name, node);
    return node;
  }

  addStore(spec: StoreSpec): void {
    if (this.stores.has(spec.name)) {
      throw new TopologyError(
        `a state store named '${spec.name}' already exists in this topology`,
        'give each stateful operation a unique name',
      );
    }
    this.stores.set(spec.name, spec);
  }

  addRepartitionTopic(spec: RepartitionTopicSpec): void {
    if (this.repartitionTopics.has(spec.name)) {
      throw new TopologyError(
        `a repartition topic named '${spec.name}' already exists in this topology`,
        'give the re-keying operation another name',
      );
    }
    this.repartitionTopics.set(spec.name, spec);
  }
}

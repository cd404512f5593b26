import { TopologyError } from '../../errors.js';
import type { LogicalGraph, TopicRef } from '../../plan/graph.js';
import type { ProcessorSupplier } from '../../processor.js';
import type { Serde } from '../../serdes/serde.js';
import type { Named, RepartitionOptions, StreamSerdes, ToOptions } from '../kstream.js';
import { passThroughSupplier } from './operators.js';

/** A processor supplier as the logical graph holds it: the DSL's generics end here. */
export type AnySupplier = ProcessorSupplier<unknown, unknown, unknown, unknown>;

/**
 * Where a stream sits in the logical graph, and the plumbing every DSL
 * operation is built from: a processor node after this one, a merge, a sink, a
 * repartition. The DSL classes hold one in a private field; users never see it.
 */
export class StreamNode<K, V> {
  private constructor(
    readonly graph: LogicalGraph,
    /** The graph node this stream's records leave from. */
    readonly node: string,
    readonly serdes: StreamSerdes<K, V>,
    /** A key-changing operation happened since the last repartition: a stateful step must repartition first. */
    readonly repartitionRequired: boolean,
    /** The operations from the source, e.g. `raw_events.filter.selectKey`: stable default names for stores and topics. */
    readonly path: string,
  ) {}

  /** The stream leaving source node `node`, already added to `graph`. */
  static source<K, V>(
    graph: LogicalGraph,
    node: string,
    serdes: StreamSerdes<K, V>,
    path: string,
  ): StreamNode<K, V> {
    return new StreamNode(graph, node, serdes, false, path);
  }

  /** A store or topic name derived from the path, e.g. `raw_events-selectKey-count`. */
  defaultName(suffix: string): string {
    return `${this.path}-${suffix}`.replace(/\./g, '-');
  }

  /** Adds a processor node after this one. */
  chain<K2, V2>(
    operation: string,
    prefix: string,
    supplier: AnySupplier,
    options: Named,
    serdes: StreamSerdes<K2, V2>,
    keyChanging: boolean,
    stores: string[] = [],
  ): StreamNode<K2, V2> {
    const { graph } = this;
    const name = options.name ?? graph.newName(prefix);
    graph.add({ kind: 'processor', name, operation, parents: [this.node], supplier, stores });
    return new StreamNode<K2, V2>(
      graph,
      name,
      serdes,
      this.repartitionRequired || keyChanging,
      `${this.path}.${options.name ?? operation}`,
    );
  }

  /** Adds a node that passes on the records of both streams; `other` must be in the same graph. */
  merge(other: StreamNode<K, V>, options: Named): StreamNode<K, V> {
    const { graph } = this;
    const name = options.name ?? graph.newName('KSTREAM-MERGE');
    graph.add({
      kind: 'processor',
      name,
      operation: 'merge',
      parents: [this.node, other.node],
      supplier: passThroughSupplier,
      stores: [],
    });
    return new StreamNode<K, V>(
      graph,
      name,
      { key: this.serdes.key ?? other.serdes.key, value: this.serdes.value ?? other.serdes.value },
      this.repartitionRequired || other.repartitionRequired,
      `${this.path}.merge`,
    );
  }

  /**
   * Adds a sink writing this stream to `topic`; fails when a serde is known neither here nor in `options`.
   * With `inPlace`, records in the task's own partition go to its source instead (a repartition in place).
   */
  sinkTo(
    topic: TopicRef,
    options: ToOptions<K, V>,
    inPlace?: { readonly source: string; readonly shareValues: boolean },
  ): void {
    const keySerde = options.key ?? this.serdes.key;
    const valueSerde = options.value ?? this.serdes.value;
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
    const { graph } = this;
    graph.add({
      kind: 'sink',
      name: options.name ?? graph.newName('KSTREAM-SINK'),
      parents: [this.node],
      topic,
      keySerde: keySerde as Serde<unknown>,
      valueSerde: valueSerde as Serde<unknown>,
      ...(inPlace === undefined
        ? {}
        : { inPlaceSource: inPlace.source, shareInPlaceValues: inPlace.shareValues }),
    });
  }

  /** Writes this stream to the internal topic `<name>-repartition` and returns the stream read back from it. */
  repartition(options: RepartitionOptions<K, V>): StreamNode<K, V> {
    const name = options.name ?? this.defaultName('repartition');
    const keySerde = options.key ?? this.serdes.key;
    const valueSerde = options.value ?? this.serdes.value;
    const { graph } = this;
    graph.addRepartitionTopic({ name: `${name}-repartition`, partitions: options.partitions });
    const topic: TopicRef = { kind: 'internal', name: `${name}-repartition` };
    const sourceName = `${name}-repartition-source`;
    if (options.shareValues === true && options.inPlace !== true)
      throw new TopologyError(
        `repartition '${name}': shareValues applies to the records a repartition in place keeps`,
        'add inPlace: true, or drop shareValues',
      );
    this.sinkTo(
      topic,
      { key: keySerde, value: valueSerde, name: `${name}-repartition-sink` },
      options.inPlace === true
        ? { source: sourceName, shareValues: options.shareValues === true }
        : undefined,
    );
    const source = graph.add({
      kind: 'source',
      name: sourceName,
      topics: [topic],
      keySerde: keySerde as Serde<unknown>,
      valueSerde: valueSerde as Serde<unknown>,
      timestampExtractor: undefined,
    });
    return StreamNode.source<K, V>(graph, source.name, { key: keySerde, value: valueSerde }, name);
  }
}

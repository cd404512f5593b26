import { TopologyError } from '../errors.js';
import type {
  GraphNode,
  LogicalGraph,
  RepartitionTopicSpec,
  SinkNode,
  SourceNode,
  StoreSpec,
  TopicRef,
} from './graph.js';

/** A connected part of the topology: its own tasks, one per partition of its sources. */
export interface SubTopology {
  readonly id: number;
  readonly sources: readonly SourceNode[];
  /** Every node of the sub-topology, parents before children. */
  readonly nodes: readonly GraphNode[];
  readonly sinks: readonly SinkNode[];
  readonly stores: readonly StoreSpec[];
  /**
   * The sources whose records reach a repartition in place of this
   * sub-topology: a task runs their batches in two passes (see StreamTask).
   */
  readonly twoPassSources: ReadonlySet<string>;
  /** The sources that read back a repartition in place of this sub-topology (their topic has one partition per task). */
  readonly inPlaceSources: ReadonlySet<string>;
}

/** The compiled plan: what runs, and what `describe()` prints. */
export interface Topology {
  readonly subTopologies: readonly SubTopology[];
  readonly nodes: ReadonlyMap<string, GraphNode>;
  /** Children of each node, in insertion order. */
  readonly children: ReadonlyMap<string, readonly string[]>;
  readonly stores: ReadonlyMap<string, StoreSpec>;
  readonly repartitionTopics: ReadonlyMap<string, RepartitionTopicSpec>;
}

/** The real name of a topic: internal topics carry the application id. */
export function topicName(ref: TopicRef, applicationId: string): string {
  return ref.kind === 'internal' ? `${applicationId}-${ref.name}` : ref.name;
}

export function changelogTopic(applicationId: string, store: string): string {
  return `${applicationId}-${store}-changelog`;
}

/** Where records for already-closed windows go, with headers saying which windows and why. */
export function lateRecordsTopic(applicationId: string): string {
  return `${applicationId}-late`;
}

export function deadLetterTopic(applicationId: string): string {
  return `${applicationId}-dlq`;
}

export function compileTopology(graph: LogicalGraph): Topology {
  const nodes = [...graph.nodes.values()];
  if (!nodes.some((n) => n.kind === 'source')) {
    throw new TopologyError('the topology has no source', 'start with builder.stream(topic, serdes)');
  }
  const children = new Map<string, string[]>(nodes.map((n) => [n.name, []]));
  const root = new Map<string, string>(nodes.map((n) => [n.name, n.name]));
  const find = (name: string): string => {
    let r = name;
    while (root.get(r) !== r) r = root.get(r)!;
    root.set(name, r);
    return r;
  };
  const union = (a: string, b: string) => root.set(find(a), find(b));

  const storeUsers = new Map<string, string>();
  for (const node of nodes) {
    if (node.kind === 'source') continue;
    for (const parent of node.parents) {
      children.get(parent)!.push(node.name);
      union(node.name, parent);
    }
    // a repartition in place: the records it keeps go on in the same task
    if (node.kind === 'sink' && node.inPlaceSource !== undefined) union(node.name, node.inPlaceSource);
    if (node.kind === 'processor') {
      for (const store of node.stores) {
        const other = storeUsers.get(store);
        if (other === undefined) storeUsers.set(store, node.name);
        else union(node.name, other);
      }
    }
  }
  for (const node of nodes) {
    if (node.kind !== 'sink' && children.get(node.name)!.length === 0 && node.kind === 'source') {
      throw new TopologyError(
        `source '${node.name}' has no downstream operation`,
        'add at least one operation or sink after builder.stream()',
      );
    }
  }

  const groups = new Map<string, GraphNode[]>();
  for (const node of nodes) {
    const key = find(node.name);
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [node]);
    else list.push(node);
  }
  const subTopologies = [...groups.values()].map((members, id): SubTopology => {
    const storeNames = new Set(members.flatMap((n) => (n.kind === 'processor' ? n.stores : [])));
    const sources = members.filter((n): n is SourceNode => n.kind === 'source');
    const sinks = members.filter((n): n is SinkNode => n.kind === 'sink');
    const inPlaceSources = new Set(
      sinks.flatMap((s) => (s.inPlaceSource === undefined ? [] : [s.inPlaceSource])),
    );
    return {
      id,
      sources,
      nodes: members,
      sinks,
      stores: [...storeNames].map((s) => graph.stores.get(s)!),
      twoPassSources: twoPassSources(sources, inPlaceSources, graph.nodes, children),
      inPlaceSources,
    };
  });
  for (const sub of subTopologies) {
    if (sub.sources.length === 0) {
      throw new TopologyError(
        `sub-topology ${sub.id} has no source`,
        'every stream must start at builder.stream()',
      );
    }
  }
  return {
    subTopologies,
    nodes: graph.nodes,
    children,
    stores: graph.stores,
    repartitionTopics: graph.repartitionTopics,
  };
}

/**
 * The sources whose records reach a repartition in place (their batches run
 * in two passes, see StreamTask): the steps before the repartition for the
 * whole batch, then the records it kept, with stream time advanced record by
 * record. The steps of the first pass see the stream time of the batch's
 * start, so none of the steps such a source feeds before the repartition may
 * keep state.
 */
function twoPassSources(
  sources: readonly SourceNode[],
  kept: ReadonlySet<string>,
  nodes: ReadonlyMap<string, GraphNode>,
  children: ReadonlyMap<string, readonly string[]>,
): Set<string> {
  const twoPass = new Set<string>();
  if (kept.size === 0) return twoPass;
  for (const source of sources) {
    if (kept.has(source.name)) continue;
    // the steps the source feeds (a source that reads the repartition back is not among them)
    const fed = new Set<string>();
    const pending = [source.name];
    while (pending.length > 0)
      for (const child of children.get(pending.pop()!) ?? [])
        if (!fed.has(child)) {
          fed.add(child);
          pending.push(child);
        }
    const steps = [...fed].map((name) => nodes.get(name)!);
    const repartitions = steps.filter((n) => n.kind === 'sink' && n.inPlaceSource !== undefined);
    if (repartitions.length === 0) continue;
    const stateful = steps.find((n) => n.kind === 'processor' && n.stores.length > 0);
    if (stateful?.kind === 'processor')
      throw new TopologyError(
        `processor '${stateful.name}' keeps state (${stateful.stores.join(', ')}) and reads source '${source.name}', whose batches a repartition in place (${repartitions.map((n) => n.name).join(', ')}) runs in two passes: the steps fed by that source before the repartition must keep no state`,
        `move '${stateful.name}' after the repartition, or drop inPlace from it`,
      );
    twoPass.add(source.name);
  }
  return twoPass;
}

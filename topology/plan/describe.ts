import type { GraphNode } from './graph.js';
import { changelogTopic, type Topology, topicName } from './topology.js';

/**
 * The topology as text, in the shape of Kafka Streams' `Topology#describe()`:
 * sub-topologies, their sources, processors (with stores) and sinks, then the
 * internal topics the application creates.
 */
export function describeTopology(topology: Topology, applicationId: string): string {
  const lines = ['Topologies:'];
  const arrows = (names: readonly string[]) => (names.length === 0 ? 'none' : names.join(', '));
  for (const sub of topology.subTopologies) {
    lines.push(`   Sub-topology: ${sub.id}`);
    for (const node of sub.nodes) {
      const down = topology.children.get(node.name) ?? [];
      lines.push(`    ${headline(node, applicationId)}`);
      if (node.kind !== 'sink') lines.push(`      --> ${arrows(down)}`);
      if (node.kind !== 'source') lines.push(`      <-- ${arrows(node.parents)}`);
    }
    for (const store of sub.stores) {
      const changelog = store.changelog ? changelogTopic(applicationId, store.name) : 'none';
      lines.push(`    Store: ${store.name} (type: ${store.type}, changelog: ${changelog})`);
    }
  }
  const internal = internalTopics(topology, applicationId);
  if (internal.length > 0) {
    lines.push('Internal topics:');
    for (const t of internal) lines.push(`   ${t.name} (${t.kind})`);
  }
  return lines.join('\n');
}

function headline(node: GraphNode, applicationId: string): string {
  switch (node.kind) {
    case 'source':
      return `Source: ${node.name} (topics: [${node.topics.map((t) => topicName(t, applicationId)).join(', ')}])`;
    case 'processor':
      return `Processor: ${node.name} (${node.operation}, stores: [${node.stores.join(', ')}])`;
    case 'sink': {
      const topic = topicName(node.topic, applicationId);
      // a repartition in place: the records of the task's own partition go to its source directly
      const inPlace = node.inPlaceSource === undefined ? '' : `, in place: ${node.inPlaceSource}`;
      return `Sink: ${node.name} (topic: ${topic}${inPlace})`;
    }
  }
}

export interface InternalTopic {
  readonly name: string;
  readonly kind: 'repartition' | 'changelog';
}

export function internalTopics(topology: Topology, applicationId: string): InternalTopic[] {
  const topics: InternalTopic[] = [];
  for (const spec of topology.repartitionTopics.values()) {
    topics.push({ name: `${applicationId}-${spec.name}`, kind: 'repartition' });
  }
  for (const store of topology.stores.values()) {
    if (store.changelog) topics.push({ name: changelogTopic(applicationId, store.name), kind: 'changelog' });
  }
  return topics;
}

/** The topology as a Mermaid flowchart: one subgraph per sub-topology, topics as stadium nodes. */
export function describeTopologyMermaid(topology: Topology, applicationId: string): string {
  const id = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');
  const lines = ['flowchart LR'];
  const topics = new Set<string>();
  for (const sub of topology.subTopologies) {
    lines.push(`  subgraph sub${sub.id}["Sub-topology ${sub.id}"]`);
    for (const node of sub.nodes) {
      const label = node.kind === 'processor' ? `${node.name}<br/>${node.operation}` : node.name;
      lines.push(`    ${id(node.name)}["${label}"]`);
    }
    lines.push('  end');
    for (const node of sub.nodes) {
      if (node.kind === 'source') {
        for (const t of node.topics) {
          const name = topicName(t, applicationId);
          topics.add(name);
          lines.push(`  topic_${id(name)} --> ${id(node.name)}`);
        }
      } else {
        for (const parent of node.parents) lines.push(`  ${id(parent)} --> ${id(node.name)}`);
        if (node.kind === 'sink') {
          const name = topicName(node.topic, applicationId);
          topics.add(name);
          lines.push(`  ${id(node.name)} --> topic_${id(name)}`);
          if (node.inPlaceSource !== undefined)
            lines.push(`  ${id(node.name)} -. in place .-> ${id(node.inPlaceSource)}`);
        }
      }
    }
  }
  for (const t of topics) lines.push(`  topic_${id(t)}(["${t}"])`);
  return lines.join('\n');
}

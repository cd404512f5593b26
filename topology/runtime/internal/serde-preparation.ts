import { changelogTopic, type Topology, topicName } from '../../plan/topology.js';
import type { Serde } from '../../serdes/serde.js';

/**
 * Prepares every serde of a topology for the topic it reads or writes (e.g.
 * an Avro serde registers or fetches its schema) before anything is
 * processed: sources, sinks and the changelogs of state stores.
 */
export async function prepareSerdes(topology: Topology, applicationId: string): Promise<void> {
  for (const sub of topology.subTopologies) {
    for (const node of sub.nodes) {
      if (node.kind === 'source') {
        for (const t of node.topics)
          await prepare(node.keySerde, node.valueSerde, topicName(t, applicationId));
      } else if (node.kind === 'sink') {
        await prepare(node.keySerde, node.valueSerde, topicName(node.topic, applicationId));
      }
    }
    for (const store of sub.stores)
      await prepare(store.keySerde, store.valueSerde, changelogTopic(applicationId, store.name));
  }
}

async function prepare(key: Serde<unknown>, value: Serde<unknown>, topic: string): Promise<void> {
  await key.prepare?.(topic);
  await value.prepare?.(topic);
}

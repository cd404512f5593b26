import { TopologyError } from '../../errors.js';
import { changelogTopic, type Topology } from '../../plan/topology.js';
import type { Serde } from '../../serdes/serde.js';
import type { StateStore } from '../../state/store.js';
import { partitionForKey } from '../partitioner.js';
import type { ActiveTasks } from './active-tasks.js';
import type { TopicLayout } from './topic-layout.js';

/**
 * Interactive queries over the state stores of an instance's tasks: the
 * local instances of a store, the one that holds a key (none when another
 * instance of the group owns the key's partition), and entry counts.
 */
export class StoreQueries {
  constructor(
    private readonly topology: Topology,
    private readonly applicationId: string,
    private readonly tasks: ActiveTasks,
    private readonly layout: TopicLayout,
  ) {}

  /** Local instances of a store: one per task that owns it here. */
  localStores(name: string): Array<{ partition: number; store: StateStore }> {
    const out: Array<{ partition: number; store: StateStore }> = [];
    for (const task of this.tasks.values()) {
      const store = task.store(name);
      if (store !== undefined) out.push({ partition: task.partition, store });
    }
    return out;
  }

  /** Entries per store name, summed over this instance's tasks (for `veroai_state_store_entries`). */
  *entries(): Iterable<readonly [string, number]> {
    for (const name of this.topology.stores.keys()) {
      const local = this.localStores(name);
      if (local.length > 0) yield [name, local.reduce((n, { store }) => n + store.approximateEntries(), 0)];
    }
  }

  /**
   * The local instance of `storeName` that holds `key`: the task of the
   * partition the default partitioner gives the key's bytes (serialised with
   * `keySerde`, by default the store's own). Undefined when no task of this
   * instance owns that partition.
   */
  holding(storeName: string, key: unknown, keySerde?: Serde<unknown>): StateStore | undefined {
    const spec = this.topology.stores.get(storeName);
    if (spec === undefined) {
      throw new TopologyError(
        `queryStore(): no state store named '${storeName}' in this topology`,
        `stores: ${[...this.topology.stores.keys()].join(', ') || 'none'}`,
      );
    }
    const sub = this.topology.subTopologies.find((s) => s.stores.some((st) => st.name === storeName));
    if (sub === undefined) return undefined;
    const topic = changelogTopic(this.applicationId, storeName);
    // a sub-topology has one task per partition of its widest source
    const partitions = this.layout.taskCount(sub);
    if (partitions === undefined) return undefined;
    const partition = partitionForKey((keySerde ?? spec.keySerde).serialize(key, topic), partitions, () => 0);
    return this.tasks.get(`${sub.id}_${partition}`)?.store(storeName);
  }
}

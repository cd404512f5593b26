import { TopologyError } from '../../errors.js';
import {
  changelogTopic,
  deadLetterTopic,
  lateRecordsTopic,
  type SubTopology,
  type Topology,
  topicName,
} from '../../plan/topology.js';
import type { TopicSpec, Transport } from '../../transports/transport.js';

/**
 * The topics an application reads and writes, as the transport has them:
 * each one's partition count, the sub-topology that reads each source topic,
 * and the outputs that leave the topology. `prepare()` checks that the
 * external topics exist and creates the internal ones (repartition,
 * changelog, dead-letter, late records).
 */
export class TopicLayout {
  private readonly partitions = new Map<string, number>();
  private readonly readers = new Map<string, SubTopology>();
  /** The topology's external output topics: where `veroai_end_to_end_latency_seconds` is measured. */
  readonly endToEndTopics = new Set<string>();

  constructor(
    private readonly topology: Topology,
    private readonly applicationId: string,
    private readonly transport: Transport,
  ) {}

  async prepare(): Promise<void> {
    const { topology, applicationId } = this;
    const external = new Set<string>();
    for (const sub of topology.subTopologies) {
      for (const node of sub.nodes) {
        if (node.kind === 'source')
          for (const t of node.topics) if (t.kind === 'external') external.add(t.name);
        if (node.kind === 'sink' && node.topic.kind === 'external') {
          external.add(node.topic.name);
          this.endToEndTopics.add(node.topic.name);
        }
      }
    }
    const missing: string[] = [];
    for (const topic of external) {
      const count = await this.transport.partitionCount(topic);
      if (count === undefined) missing.push(topic);
      else this.partitions.set(topic, count);
    }
    if (missing.length > 0) {
      throw new TopologyError(
        `topics missing on the ${this.transport.kind} transport: ${missing.join(', ')}`,
        'create them first (veroai topics create, or your platform tooling)',
      );
    }
    const specs: TopicSpec[] = [];
    // a repartition topic with a fixed count is known before its writer; one without takes its writer's task count
    for (const spec of topology.repartitionTopics.values())
      if (spec.partitions !== undefined)
        this.partitions.set(topicName({ kind: 'internal', name: spec.name }, applicationId), spec.partitions);
    // a sub-topology is laid out once every topic it reads has a count: its writers' first, whatever the build order
    let pending = [...topology.subTopologies];
    const layOut = (sub: (typeof pending)[number], tasks: number) => {
      for (const sink of sub.sinks) {
        if (sink.topic.kind !== 'internal') continue;
        const name = topicName(sink.topic, applicationId);
        const fixed = topology.repartitionTopics.get(sink.topic.name)?.partitions;
        if (sink.inPlaceSource !== undefined && fixed !== undefined && fixed !== tasks)
          throw new TopologyError(
            `repartition topic '${name}' is in place but has ${fixed} partitions for ${tasks} tasks: a record kept in its task must be where the topic would have put it`,
            'drop its partition count (it gets one per task), or drop inPlace',
          );
        this.partitions.set(name, fixed ?? tasks);
        specs.push({ name, partitions: fixed ?? tasks });
      }
      for (const store of sub.stores) {
        if (!store.changelog) continue;
        const name = changelogTopic(applicationId, store.name);
        this.partitions.set(name, tasks);
        specs.push({ name, partitions: tasks, compacted: true });
      }
      for (const source of sub.sources)
        for (const t of source.topics) this.readers.set(topicName(t, applicationId), sub);
    };
    while (pending.length > 0) {
      const ready = pending.filter((sub) => this.taskCount(sub) !== undefined);
      if (ready.length === 0)
        throw new TopologyError(
          `sub-topologies ${pending.map((sub) => sub.id).join(', ')} read repartition topics whose partition count depends on each other`,
          'give one of those repartition() calls a partition count',
        );
      for (const sub of ready) layOut(sub, this.taskCount(sub)!);
      pending = pending.filter((sub) => !ready.includes(sub));
    }
    const dlq = deadLetterTopic(applicationId);
    const dlqPartitions = Math.max(1, ...this.partitions.values());
    specs.push({ name: dlq, partitions: (await this.transport.partitionCount(dlq)) ?? dlqPartitions });
    const late = lateRecordsTopic(applicationId);
    specs.push({ name: late, partitions: (await this.transport.partitionCount(late)) ?? dlqPartitions });
    await this.transport.ensureTopics(specs);
    for (const spec of specs)
      this.partitions.set(spec.name, (await this.transport.partitionCount(spec.name)) ?? spec.partitions);
    this.checkInPlaceCounts();
  }

  /** A repartition topic in place that existed with another partition count would put records elsewhere. */
  private checkInPlaceCounts(): void {
    for (const sub of this.topology.subTopologies) {
      const tasks = this.taskCount(sub);
      for (const sink of sub.sinks) {
        if (sink.inPlaceSource === undefined) continue;
        const name = topicName(sink.topic, this.applicationId);
        const count = this.partitions.get(name);
        if (count !== tasks)
          throw new TopologyError(
            `repartition topic '${name}' is in place but exists with ${count} partitions for ${tasks} tasks`,
            `once the application has read the topic to its end, delete it (it is made again with ${tasks}), or drop inPlace`,
          );
      }
    }
  }

  /** Every topic the application reads (once prepared). */
  sourceTopics(): string[] {
    return [...this.readers.keys()];
  }

  /** The sub-topology whose tasks read `topic`, if the application reads it. */
  readerOf(topic: string): SubTopology | undefined {
    return this.readers.get(topic);
  }

  partitionCount(topic: string): number {
    const count = this.partitions.get(topic);
    if (count === undefined)
      throw new TopologyError(
        `no partition count known for topic '${topic}'`,
        'is it a sink of this topology?',
      );
    return count;
  }

  /**
   * How many tasks `sub` has: one per partition of its widest source.
   * Undefined while the partition count of one of its sources is unknown.
   */
  taskCount(sub: SubTopology): number | undefined {
    // a repartition in place has one partition per task of the sub-topology that writes and reads it
    const counts = sub.sources
      .filter((s) => !sub.inPlaceSources.has(s.name))
      .flatMap((s) => s.topics.map((t) => this.partitions.get(topicName(t, this.applicationId))));
    if (counts.length === 0 || counts.some((c) => c === undefined)) return undefined;
    return Math.max(...(counts as number[]));
  }
}

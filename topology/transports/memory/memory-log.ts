import type { Headers, OutgoingRecord, SourceRecord, TopicPartition } from '../../record.js';
import { tpKey } from '../../record.js';
import type { CommitOffset, TopicSpec } from '../transport.js';

interface MemoryTopic {
  readonly partitions: SourceRecord[][];
  readonly compacted: boolean;
}

interface GroupMember {
  readonly topics: readonly string[];
  /** Called with the member's new assignment after every rebalance. */
  rebalance(assignment: TopicPartition[]): Promise<void>;
}

interface Group {
  readonly committed: Map<string, number>;
  /** Metadata committed with each offset. */
  readonly metadata: Map<string, string>;
  readonly members: GroupMember[];
}

/**
 * An in-process partitioned log shared by memory producers and consumers: the
 * broker of the memory transport. Offsets start at 0 per partition; committed
 * offsets are kept per consumer group; members of a group share the partitions
 * of their topics (range assignment per topic, like Kafka's RangeAssignor).
 */
export class MemoryLog {
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly groups = new Map<string, Group>();
  private waiters: Array<() => void> = [];
  private appended = 0;
  private notifications = 0;

  createTopic(spec: TopicSpec): void {
    const existing = this.topics.get(spec.name);
    if (existing !== undefined) {
      if (existing.partitions.length !== spec.partitions) {
        throw new Error(
          `topic '${spec.name}' exists with ${existing.partitions.length} partitions, not ${spec.partitions}`,
        );
      }
      return;
    }
    this.topics.set(spec.name, {
      partitions: Array.from({ length: spec.partitions }, () => []),
      compacted: spec.compacted ?? false,
    });
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length;
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  append(record: OutgoingRecord): number {
    const topic = this.topics.get(record.topic);
    if (topic === undefined) throw new Error(`topic '${record.topic}' does not exist (memory transport)`);
    const log = topic.partitions[record.partition];
    if (log === undefined) {
      throw new Error(
        `topic '${record.topic}' has no partition ${record.partition} (it has ${topic.partitions.length})`,
      );
    }
    const offset = log.length;
    log.push({
      topic: record.topic,
      partition: record.partition,
      offset,
      key: record.key,
      value: record.value,
      timestamp: record.timestamp,
      headers: (record.headers ?? {}) as Headers,
    });
    this.appended += 1;
    return offset;
  }

  /** Wakes consumers waiting for data. Called once per produced batch. */
  notify(): void {
    this.notifications += 1;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** A counter of `notify` calls: pass it to `nextAppend` to not miss one that happens meanwhile. */
  get notifyCount(): number {
    return this.notifications;
  }

  /** Resolves at the next `notify` after the one numbered `since` (at once if it already happened). */
  nextAppend(since = this.notifications): Promise<void> {
    if (this.notifications > since) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get totalAppended(): number {
    return this.appended;
  }

  read(topic: string, partition: number, fromOffset: number, max: number): SourceRecord[] {
    const log = this.topics.get(topic)?.partitions[partition];
    if (log === undefined) return [];
    return log.slice(fromOffset, fromOffset + max);
  }

  endOffset(topic: string, partition: number): number {
    return this.topics.get(topic)?.partitions[partition]?.length ?? 0;
  }

  endOffsets(topic: string): number[] {
    return this.topics.get(topic)?.partitions.map((p) => p.length) ?? [];
  }

  committed(groupId: string, topic: string, partition: number): number | undefined {
    return this.groups.get(groupId)?.committed.get(tpKey(topic, partition));
  }

  /** The metadata committed with a partition's offset, if any. */
  committedMetadata(groupId: string, topic: string, partition: number): string | undefined {
    return this.groups.get(groupId)?.metadata.get(tpKey(topic, partition));
  }

  commit(groupId: string, offsets: readonly CommitOffset[]): void {
    const group = this.group(groupId);
    for (const o of offsets) {
      group.committed.set(tpKey(o.topic, o.partition), o.offset);
      if (o.metadata === undefined) group.metadata.delete(tpKey(o.topic, o.partition));
      else group.metadata.set(tpKey(o.topic, o.partition), o.metadata);
    }
  }

  async join(groupId: string, member: GroupMember): Promise<void> {
    this.group(groupId).members.push(member);
    await this.rebalance(groupId);
  }

  async leave(groupId: string, member: GroupMember): Promise<void> {
    const group = this.group(groupId);
    const i = group.members.indexOf(member);
    if (i >= 0) group.members.splice(i, 1);
    await this.rebalance(groupId);
  }

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { committed: new Map(), metadata: new Map(), members: [] };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private async rebalance(groupId: string): Promise<void> {
    const { members } = this.group(groupId);
    const assignments = members.map((): TopicPartition[] => []);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const subscribed = members.map((m, i) => ({ m, i })).filter(({ m }) => m.topics.includes(topic));
      const count = this.partitionCount(topic) ?? 0;
      const per = Math.floor(count / subscribed.length);
      const extra = count % subscribed.length;
      let next = 0;
      subscribed.forEach(({ i }, rank) => {
        const n = per + (rank < extra ? 1 : 0);
        for (let p = next; p < next + n; p++) assignments[i]!.push({ topic, partition: p });
        next += n;
      });
    }
    await Promise.all(members.map((m, i) => m.rebalance(assignments[i]!)));
  }
}

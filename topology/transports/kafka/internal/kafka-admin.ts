/**
 * The transport's admin operations on one shared kafkajs admin client:
 * topics (created, checked, their partition counts), end offsets, a group's
 * committed offsets, deleting a group.
 */
import type { Admin, Kafka } from 'kafkajs';
import { TopologyError } from '../../../errors.js';
import type { CommitOffset, TopicSpec } from '../../transport.js';
import { isRetriable } from './kafka-errors.js';

export class KafkaAdmin {
  private admin: Promise<Admin> | undefined;
  private readonly partitionCache = new Map<string, number>();

  /** `replicationFactor`: of the topics this creates; undefined, the broker's `default.replication.factor`. */
  constructor(
    private readonly kafka: Kafka,
    private readonly replicationFactor: number | undefined,
  ) {}

  /** kafkajs admin, connected once and shared. */
  async connected(): Promise<Admin> {
    if (this.admin === undefined) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => {
        this.admin = undefined;
      });
    }
    return this.admin;
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.connected();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    for (const spec of specs) {
      if (!existing.has(spec.name)) continue;
      const count = await this.partitionCount(spec.name);
      if (count !== spec.partitions) {
        throw new TopologyError(
          `topic '${spec.name}' exists with ${count} partitions, but ${spec.partitions} are needed`,
          'internal topics must match their input partitions; reset the application or delete the topic',
        );
      }
    }
    if (missing.length === 0) return;
    await admin.createTopics({
      // kafkajs waits out LEADER_NOT_AVAILABLE only; a KRaft broker may not know a new topic yet either
      waitForLeaders: false,
      topics: missing.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: this.replicationFactor ?? -1,
        configEntries: s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
    await this.waitForLeaders(missing);
    for (const s of missing) this.partitionCache.set(s.name, s.partitions);
  }

  /** Waits until every partition of the topics has a leader the broker reports (60 s at most). */
  private async waitForLeaders(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.connected();
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
        const ready = specs.every((spec) => {
          const partitions = topics.find((t) => t.name === spec.name)?.partitions ?? [];
          return partitions.length === spec.partitions && partitions.every((p) => p.leader >= 0);
        });
        if (ready) return;
      } catch (error) {
        if (!isRetriable(error)) throw error;
      }
      if (Date.now() > deadline) {
        throw new TopologyError(
          `topics ${specs.map((s) => s.name).join(', ')} have no leader after 60 s`,
          'is the broker overloaded or missing brokers for the replication factor?',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    const cached = this.partitionCache.get(topic);
    if (cached !== undefined) return cached;
    const admin = await this.connected();
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) return undefined;
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length;
    if (count !== undefined && count > 0) this.partitionCache.set(topic, count);
    return count;
  }

  async endOffsets(topic: string): Promise<number[]> {
    const admin = await this.connected();
    // a topic created a moment ago may still be electing its leaders: retriable errors are retried
    for (let attempt = 1; ; attempt++) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        const out: number[] = [];
        for (const o of offsets) out[o.partition] = Number(o.high);
        return out;
      } catch (error) {
        if (attempt >= 10 || !isRetriable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<Array<number | undefined>> {
    // holes (partitions kafkajs did not report) stay holes
    return (await this.committedPositions(groupId, topic)).map((position) => position?.offset);
  }

  async committedPositions(groupId: string, topic: string): Promise<Array<CommitOffset | undefined>> {
    const admin = await this.connected();
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out: Array<CommitOffset | undefined> = [];
    // kafkajs reports "-1" for a partition the group has not committed
    for (const p of committed?.partitions ?? []) {
      out[p.partition] =
        p.offset === '-1'
          ? undefined
          : {
              topic,
              partition: p.partition,
              offset: Number(p.offset),
              ...(p.metadata ? { metadata: p.metadata } : {}),
            };
    }
    return out;
  }

  /** Deletes a consumer group, if it can: a group left behind is only clutter. */
  async deleteGroup(groupId: string): Promise<void> {
    const admin = await this.connected();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }

  /** Disconnects the admin client, if one was connected. */
  async close(): Promise<void> {
    if (this.admin === undefined) return;
    const admin = await this.admin.catch(() => undefined);
    this.admin = undefined;
    await admin?.disconnect();
  }
}

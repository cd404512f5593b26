import type { Logger } from 'pino';
import type { TopicPartition } from '../record.js';
import { tpKey } from '../record.js';
import type { CommitOffset, Transport } from '../transports/transport.js';
import type { RuntimeMetrics } from './metrics.js';

interface Position {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to process; undefined until a batch or the group's commit tells. */
  next: number | undefined;
}

/**
 * Keeps `veroai_consumer_lag` for the source partitions this instance owns:
 * end offset minus the next offset to process. Positions come from the
 * batches as they are processed (free); a partition with no batch yet starts
 * from the group's committed offset, and one without either reports no lag
 * rather than a guess. End offsets are asked of the transport every
 * `intervalMs` (a metadata request on Kafka: never per batch).
 */
export class ConsumerLagMonitor {
  private readonly positions = new Map<string, Position>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly groupId: string,
    private readonly metrics: RuntimeMetrics,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Starts the periodic refresh (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops refreshing and drops every lag series of this instance. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const p of this.positions.values()) this.metrics.forgetLag(p.topic, p.partition);
    this.positions.clear();
  }

  assigned(tps: readonly TopicPartition[]): void {
    for (const { topic, partition } of tps) {
      const key = tpKey(topic, partition);
      if (!this.positions.has(key)) this.positions.set(key, { topic, partition, next: undefined });
    }
  }

  revoked(tps: readonly TopicPartition[]): void {
    for (const { topic, partition } of tps) {
      if (this.positions.delete(tpKey(topic, partition))) this.metrics.forgetLag(topic, partition);
    }
  }

  /** The input positions after a processed batch. */
  advanced(offsets: readonly CommitOffset[]): void {
    for (const o of offsets) {
      const position = this.positions.get(tpKey(o.topic, o.partition));
      if (position !== undefined && (position.next ?? -1) < o.offset) position.next = o.offset;
    }
  }

  /** Asks the transport for end offsets (and committed offsets where needed) and sets the gauges. */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshNow()
      .catch((error) => this.logger.warn({ err: error }, 'consumer lag not refreshed; will retry'))
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async refreshNow(): Promise<void> {
    const byTopic = new Map<string, Position[]>();
    for (const p of this.positions.values()) {
      const list = byTopic.get(p.topic) ?? [];
      list.push(p);
      byTopic.set(p.topic, list);
    }
    for (const [topic, positions] of byTopic) {
      const ends = await this.transport.endOffsets(topic);
      if (positions.some((p) => p.next === undefined)) {
        const committed = await this.transport.committedOffsets(this.groupId, topic);
        for (const p of positions) {
          const offset = committed[p.partition];
          if (offset !== undefined && (p.next ?? -1) < offset) p.next = offset;
        }
      }
      for (const p of positions) {
        const end = ends[p.partition];
        // revoked while we waited, or nothing known yet
        if (end === undefined || p.next === undefined) continue;
        if (this.positions.get(tpKey(p.topic, p.partition)) !== p) continue;
        this.metrics.lag(topic, p.partition, Math.max(0, end - p.next));
      }
    }
  }
}

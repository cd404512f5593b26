import type { Logger } from 'pino';
import type { TopicPartition } from '../record.js';
import { tpKey } from '../record.js';
import type { CommitOffset, PartitionTail, Transport } from '../transports/transport.js';
import type { RuntimeMetrics } from './metrics.js';

interface Position {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to process; undefined until a batch or the group's commit tells. */
  next: number | undefined;
  /** `next` at the previous refresh: a partition whose position stands still gets its tail read. */
  previous: number | undefined;
  /** What a read of the tail from `next` found: only markers and aborted records before `tail.offset`. */
  tail: (PartitionTail & { readonly from: number }) | undefined;
}

/** A gap this small between position and end is read every refresh: it may be only transaction markers. */
const SMALL_GAP = 16;

/**
 * Keeps `veroai_consumer_lag` for the source partitions this instance owns:
 * end offset minus the next offset to process. Positions come from the
 * batches as they are processed (free); a partition with no batch yet starts
 * from the group's committed offset, and one without either reports no lag
 * rather than a guess. End offsets (the last stable offset on Kafka) are asked
 * of the transport every `intervalMs` (a metadata request: never per batch).
 *
 * Lag is net of transaction markers: after the last record of a transaction
 * comes its commit marker, an offset no consumer receives, so the position
 * after the last record processed stays one short of the end (more after
 * aborted transactions, whose records a read_committed consumer never sees).
 * Kafka Streams commits the consumer's position, which has stepped over them;
 * here, when a partition's position stands still or is a few offsets short of
 * the end, the transport reads the tail from the position (one small fetch,
 * no consumer group) and the markers and aborted records it finds are not
 * counted: a partition that has processed every committed record reads 0.
 * A tail read is remembered until the position moves, so an idle partition
 * is read once. With a backlog, the lag counts offsets, markers included.
 */
export class ConsumerLagMonitor {
  private readonly positions = new Map<string, Position>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** A failed tail read is logged as a warning once, then at debug level. */
  private tailReadFailed = false;

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
      if (!this.positions.has(key))
        this.positions.set(key, { topic, partition, next: undefined, previous: undefined, tail: undefined });
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
      await this.readTails(topic, positions, ends);
      for (const p of positions) {
        const end = ends[p.partition];
        // revoked while we waited, or nothing known yet
        if (end === undefined || p.next === undefined) continue;
        if (this.positions.get(tpKey(p.topic, p.partition)) !== p) continue;
        this.metrics.lag(topic, p.partition, Math.max(0, end - this.skipped(p)));
      }
      for (const p of positions) p.previous = p.next;
    }
  }

  /** The position past the markers and aborted records a tail read found after it. */
  private skipped(p: Position): number {
    const next = p.next ?? 0;
    return p.tail !== undefined && p.tail.from === next ? Math.max(next, p.tail.offset) : next;
  }

  /**
   * Reads on from the position of each partition that stands still or is a
   * few offsets short of its end, unless an earlier read from the same
   * position found a record (there is work to do) or reached the end.
   */
  private async readTails(
    topic: string,
    positions: readonly Position[],
    ends: readonly number[],
  ): Promise<void> {
    if (this.transport.skipTransactionMarkers === undefined) return;
    const from = new Map<number, number>();
    /** Each partition read, with its position when the read began. */
    const reading = new Map<number, { position: Position; next: number }>();
    for (const p of positions) {
      const end = ends[p.partition];
      if (end === undefined || p.next === undefined) continue;
      if (p.tail !== undefined && p.tail.from !== p.next) p.tail = undefined;
      const at = this.skipped(p);
      if (at >= end || p.tail?.record === true) continue;
      if (p.next !== p.previous && end - at > SMALL_GAP) continue;
      from.set(p.partition, at);
      reading.set(p.partition, { position: p, next: p.next });
    }
    if (from.size === 0) return;
    let tails: Map<number, PartitionTail>;
    try {
      tails = await this.transport.skipTransactionMarkers(topic, from);
    } catch (error) {
      // the lag then counts the markers, as it did before tails were read
      this.logger[this.tailReadFailed ? 'debug' : 'warn'](
        { err: error, topic },
        'tail of input partitions not read; consumer lag counts transaction markers',
      );
      this.tailReadFailed = true;
      return;
    }
    for (const [partition, tail] of tails) {
      const read = reading.get(partition);
      // the position moved meanwhile: this read says nothing about the new one
      if (read !== undefined && read.position.next === read.next)
        read.position.tail = { ...tail, from: read.next };
    }
  }
}

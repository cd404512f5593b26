import type { Logger } from 'pino';
import { TopologyError } from '../../errors.js';
import type { Cancellable, PunctuationType } from '../../processor.js';
import type { RuntimeMetrics } from '../metrics.js';

interface Punctuation {
  readonly node: string;
  readonly intervalMs: number;
  readonly type: PunctuationType;
  readonly callback: (timestamp: number) => void | Promise<void>;
  cancelled: boolean;
  next: number;
  /** Calls that threw since the last one that did not. */
  failuresInARow: number;
}

/** A punctuator that fails this many times in a row fails its task (an expiry that never runs lets state grow without bound). */
export const MAX_PUNCTUATOR_FAILURES_IN_A_ROW = 3;

/**
 * A task's punctuations (`context.schedule`). The task runs the due ones at
 * the start of a batch, and after each record that moves stream time past a
 * stream-time deadline (as Kafka Streams checks after every record). A
 * punctuator that throws is counted (`veroai_punctuator_failures_total`) and
 * retried at its next deadline; MAX_PUNCTUATOR_FAILURES_IN_A_ROW failures in
 * a row are the task's failure.
 */
export class PunctuationSchedule {
  private readonly punctuations: Punctuation[] = [];
  /** The earliest stream time at which a stream-time punctuation is due. */
  private streamTimeDue = Number.POSITIVE_INFINITY;

  constructor(
    private readonly taskId: string,
    private readonly metrics: RuntimeMetrics,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  add(
    node: string,
    intervalMs: number,
    type: PunctuationType,
    callback: (timestamp: number) => void | Promise<void>,
  ): Cancellable {
    if (!Number.isInteger(intervalMs) || intervalMs <= 0) {
      throw new TopologyError(
        `processor '${node}': schedule() needs a positive whole number of milliseconds, got ${intervalMs}`,
      );
    }
    const punctuation: Punctuation = {
      node,
      intervalMs,
      type,
      callback,
      cancelled: false,
      failuresInARow: 0,
      // wall-clock starts now; stream-time at the first stream time seen
      next: type === 'wall-clock' ? this.now() + intervalMs : Number.NEGATIVE_INFINITY,
    };
    this.punctuations.push(punctuation);
    if (type === 'stream-time') this.streamTimeDue = Number.NEGATIVE_INFINITY;
    return {
      cancel: () => {
        punctuation.cancelled = true;
      },
    };
  }

  /** True when stream time has reached a stream-time deadline. */
  streamTimeReached(streamTime: number): boolean {
    return streamTime >= this.streamTimeDue;
  }

  /** True when a wall-clock punctuation is due. */
  wallClockDue(): boolean {
    const now = this.now();
    return this.punctuations.some((p) => p.type === 'wall-clock' && !p.cancelled && now >= p.next);
  }

  /**
   * Runs the due punctuations (of every type, or stream-time ones only), once
   * per call however many intervals passed, as Kafka Streams does. Returns the
   * task's failure when a punctuator has failed too often in a row.
   */
  async run(streamTime: number, types: 'all' | 'stream-time' = 'all'): Promise<TopologyError | undefined> {
    const now = this.now();
    let failure: TopologyError | undefined;
    for (const p of this.punctuations) {
      if (p.cancelled || (types === 'stream-time' && p.type !== 'stream-time')) continue;
      const time = p.type === 'wall-clock' ? now : streamTime;
      if (time < 0) continue;
      if (p.next === Number.NEGATIVE_INFINITY) p.next = time + p.intervalMs;
      if (time < p.next) continue;
      p.next =
        p.type === 'wall-clock'
          ? time + p.intervalMs
          : p.next + Math.ceil((time - p.next + 1) / p.intervalMs) * p.intervalMs;
      try {
        await p.callback(time);
        p.failuresInARow = 0;
      } catch (error) {
        p.failuresInARow += 1;
        this.metrics.punctuatorFailed(p.node);
        this.logger.error(
          { task: this.taskId, node: p.node, err: error, failuresInARow: p.failuresInARow },
          'a punctuator failed',
        );
        if (p.failuresInARow >= MAX_PUNCTUATOR_FAILURES_IN_A_ROW) {
          failure ??= new TopologyError(
            `task ${this.taskId}: the punctuator of '${p.node}' failed ${p.failuresInARow} times in a row: ${(error as Error)?.message ?? String(error)}`,
            'its work (e.g. expiry) is not being done; fix the cause and restart',
          );
        }
      }
    }
    this.streamTimeDue = this.nextStreamTimeDeadline();
    return failure;
  }

  private nextStreamTimeDeadline(): number {
    let due = Number.POSITIVE_INFINITY;
    for (const p of this.punctuations)
      if (!p.cancelled && p.type === 'stream-time' && p.next < due) due = p.next;
    return due;
  }
}

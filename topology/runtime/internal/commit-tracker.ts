import { tpKey } from '../../record.js';
import type { CommitOffset } from '../../transports/transport.js';

/** A batch whose output is on its way: its offsets become committable once acknowledged. */
interface InFlight {
  readonly offsets: readonly CommitOffset[];
  acked: boolean;
}

/**
 * Which of a task's input offsets are safe to commit: those of batches whose
 * output (results, changelog writes, dead letters) the log has acknowledged,
 * and every batch before them. Each offset carries the stream time after its
 * batch, committed beside it.
 */
export class CommitTracker {
  private readonly inFlight: InFlight[] = [];
  private readonly committable = new Map<string, CommitOffset>();
  private drainWaiters: Array<() => void> = [];

  /** A processed batch's offsets; returns the call to make once its output is acknowledged. */
  track(offsets: readonly CommitOffset[]): () => void {
    const flight: InFlight = { offsets, acked: false };
    this.inFlight.push(flight);
    return () => this.acknowledge(flight);
  }

  /** Batches processed but not yet acknowledged. */
  get backlog(): number {
    return this.inFlight.length;
  }

  /** True when everything processed is acknowledged and committed. */
  get settled(): boolean {
    return this.inFlight.length === 0 && this.committable.size === 0;
  }

  /** Resolves when every processed batch is acknowledged. */
  drained(): Promise<void> {
    if (this.inFlight.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Offsets safe to commit since the last call. */
  take(): CommitOffset[] {
    const out = [...this.committable.values()];
    this.committable.clear();
    return out;
  }

  /** Puts back offsets whose commit failed, unless a newer offset for the partition is waiting. */
  giveBack(offsets: readonly CommitOffset[]): void {
    for (const o of offsets) {
      const k = tpKey(o.topic, o.partition);
      if ((this.committable.get(k)?.offset ?? -1) < o.offset) this.committable.set(k, o);
    }
  }

  private acknowledge(flight: InFlight): void {
    flight.acked = true;
    while (this.inFlight[0]?.acked) {
      for (const o of this.inFlight.shift()!.offsets) this.committable.set(tpKey(o.topic, o.partition), o);
    }
    if (this.inFlight.length === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }
}

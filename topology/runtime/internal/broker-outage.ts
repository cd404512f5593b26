import { VeroaiError } from '../../errors.js';

/** How long the brokers may stay unreachable before an application gives up, by default (BROKER_MAX_OUTAGE_MS). */
export const DEFAULT_MAX_BROKER_OUTAGE_MS = 120_000;

/** An outage in progress: since when, and the last failure it caused. */
export interface BrokerOutageState {
  /** When the first failure of the outage was seen (epoch ms). */
  readonly since: number;
  readonly lastError: unknown;
}

/**
 * The brokers' availability as one application sees it. An outage begins at
 * the first failure with a connectivity cause (a send, a commit, a
 * transaction, the consumer losing the brokers) and ends at the next
 * success. Within `maxMs` nothing of it is fatal; when it has lasted longer,
 * `onExceeded` is called once with the error the application fails with.
 */
export class BrokerOutage {
  private current: { since: number; lastError: unknown } | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    readonly maxMs: number,
    private readonly onExceeded: (error: VeroaiError) => void,
  ) {}

  /** A failure with a connectivity cause. True while the outage is within its bound. */
  failed(error: unknown): boolean {
    if (this.current === undefined) {
      this.current = { since: Date.now(), lastError: error };
      this.deadline = setTimeout(() => this.onExceeded(this.exceededError()), this.maxMs);
      this.deadline.unref();
    } else {
      this.current.lastError = error;
    }
    return this.withinBound();
  }

  /** The brokers answered: the outage, if any, is over. */
  succeeded(): void {
    if (this.current === undefined) return;
    this.current = undefined;
    clearTimeout(this.deadline);
  }

  /** The outage in progress, if any. */
  state(): BrokerOutageState | undefined {
    return this.current === undefined ? undefined : { ...this.current };
  }

  withinBound(): boolean {
    return this.current === undefined || Date.now() - this.current.since < this.maxMs;
  }

  /** The application fails with this once the outage has lasted longer than its bound. */
  exceededError(): VeroaiError {
    const since = this.current?.since ?? Date.now();
    const lastError = this.current?.lastError;
    let root: unknown = lastError;
    for (let e: unknown = lastError; e instanceof Error; e = e.cause) root = e;
    const reason = root instanceof Error ? root.message : String(root);
    return new VeroaiError(
      'VEROAI_ERR_KAFKA_UNREACHABLE',
      `lost the Kafka brokers: unreachable for ${((Date.now() - since) / 1000).toFixed(0)} s, longer than BROKER_MAX_OUTAGE_MS (${this.maxMs} ms); last error: ${reason}`,
      {
        hint: 'check that Kafka is up and reachable at KAFKA_BROKERS, then start again: it resumes from its last commit, uncommitted input is reprocessed',
        cause: lastError,
      },
    );
  }

  close(): void {
    clearTimeout(this.deadline);
  }
}

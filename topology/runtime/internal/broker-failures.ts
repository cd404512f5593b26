import type { Logger } from 'pino';
import type { Transport } from '../../transports/transport.js';
import type { BrokerOutage } from './broker-outage.js';

/**
 * Reads the runtime's failures against the brokers' outage: a failure the
 * transport says means the brokers are unreachable is part of an outage,
 * ridden out within its bound; any other failure is what it is.
 */
export class BrokerFailures {
  constructor(
    private readonly transport: Transport,
    readonly outage: BrokerOutage,
    private readonly logger: Logger,
    private readonly running: () => boolean,
    private readonly fail: (error: unknown) => void,
  ) {}

  /** True when the transport says `error` means the brokers could not be reached. */
  unreachable(error: unknown): boolean {
    return this.transport.unreachable?.(error) ?? false;
  }

  /** Counts `error` into the outage when it means the brokers are unreachable. */
  record(error: unknown): void {
    if (this.unreachable(error)) this.outage.failed(error);
  }

  /**
   * True when `error` means the brokers are unreachable, the application
   * runs and the outage is within its bound: only what the failure touched
   * is given up, the application goes on.
   */
  ridesOut(error: unknown): boolean {
    return this.unreachable(error) && this.running() && this.outage.failed(error);
  }

  /** What the application fails with: the outage's error when `error` belongs to one, else `error`. */
  fatal(error: unknown): unknown {
    return this.unreachable(error) && this.outage.state() ? this.outage.exceededError() : error;
  }

  /**
   * The consumer lost the brokers (after its own retries). While the
   * application runs and the outage is within its bound, it reconnects by
   * itself and the tasks stay (true); past the bound the application fails.
   */
  consumerLost(error: unknown): boolean {
    if (!this.running()) return false;
    if (!this.outage.failed(error)) {
      this.fail(this.outage.exceededError());
      return false;
    }
    this.logger.warn(
      {
        err: error,
        outageSince: new Date(this.outage.state()!.since).toISOString(),
        maxBrokerOutageMs: this.outage.maxMs,
      },
      'the consumer lost the Kafka brokers; reconnecting',
    );
    return true;
  }
}

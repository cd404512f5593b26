import type { Logger } from 'pino';
import { VeroaiError } from '../../errors.js';
import type { TransportConsumer } from '../../transports/transport.js';
import type { ActiveTasks } from './active-tasks.js';
import type { BatchProcessing } from './batch-processing.js';
import type { TaskTransactions } from './task-transactions.js';

/** After the stop deadline, how long each closing step (commit, leaving the group, closing a task) may still take. */
const CLOSE_GRACE_MS = 5_000;

/** What the stop sequence closes. Read at each step: start() or a fatal error may change them meanwhile. */
export interface StoppingRuntime {
  readonly logger: Logger;
  readonly tasks: ActiveTasks;
  readonly transactions: TaskTransactions;
  readonly batches: BatchProcessing;
  /** Undefined when start() did not get that far. */
  consumer(): TransportConsumer | undefined;
  /** Settles when start() is over, run or not. */
  startup(): Promise<void>;
  /** After a fatal error: nothing is committed and nothing in flight is waited for. */
  failed(): boolean;
  commit(): Promise<void>;
}

/**
 * The stop sequence, bounded by a deadline of `timeoutMs`: pauses the input,
 * lets the batches in progress finish and their output be acknowledged,
 * commits, leaves the group and closes the tasks. Past the deadline what is
 * still in flight is abandoned uncommitted, and each closing step still gets
 * CLOSE_GRACE_MS. Returns what the deadline cut short, if it did.
 */
export async function drainAndClose(
  runtime: StoppingRuntime,
  timeoutMs: number,
): Promise<string | undefined> {
  const { tasks, batches } = runtime;
  const deadline = new StopDeadline(timeoutMs, runtime.logger);
  try {
    /** What the deadline cut short, if it did. */
    let heldUpBy: string | undefined;
    // a consumer exists once start() got that far: let it finish joining, then leave (start() creates
    // none after this point: it sees the state change)
    if (runtime.consumer() !== undefined && !(await deadline.inTime('joining the group', runtime.startup())))
      heldUpBy = 'still joining the group';
    runtime.consumer()?.pause(tasks.inputPartitions());
    if (heldUpBy === undefined && !runtime.failed()) {
      const drained = batches.finished(() => !deadline.expired);
      if (!(await deadline.inTime('finishing the batches in progress', drained)) || batches.inProgress > 0)
        heldUpBy = `${batches.inProgress} batch(es) still in flight abandoned uncommitted`;
      else if (!(await deadline.inTime('sending their output', batches.outbox?.flush())))
        heldUpBy = 'output not acknowledged by the log, abandoned uncommitted';
    }
    // a send still retrying (the brokers down) is given up: its batches are not committed
    batches.outbox?.abandon();
    // what the log acknowledged is committed, abandoned batches are not (their offsets are not committable)
    if (!runtime.failed()) await deadline.closing('committing', runtime.commit());
    await deadline.closing('leaving the group', runtime.consumer()?.stop());
    const clean = heldUpBy === undefined && !runtime.failed();
    for (const task of tasks.values()) {
      await deadline.closing(`closing task ${task.id}`, task.close({ clean }));
      await deadline.closing(`closing the producer of task ${task.id}`, runtime.transactions.close(task.id));
    }
    tasks.clear();
    tasks.report();
    return heldUpBy;
  } finally {
    deadline.clear();
  }
}

/** The error stop() rejects with when its deadline cut the sequence short. */
export function stopTimeoutError(timeoutMs: number, heldUpBy: string): VeroaiError {
  return new VeroaiError(
    'VEROAI_ERR_STOP_TIMEOUT',
    `the stop did not finish within ${timeoutMs} ms (${heldUpBy}); the group was left, uncommitted input is reprocessed on restart`,
    { hint: 'find what held it up (a sink or the brokers down?), or raise stopTimeoutMs' },
  );
}

/** The stop's deadline: steps that wait for it, and closing steps that get a grace past it. */
class StopDeadline {
  expired = false;
  private readonly timer: NodeJS.Timeout;
  private readonly timedOut: Promise<'expired'>;

  constructor(
    timeoutMs: number,
    private readonly logger: Logger,
  ) {
    let expire: () => void = () => undefined;
    this.timedOut = new Promise<'expired'>((resolve) => {
      expire = () => resolve('expired');
    });
    this.timer = setTimeout(() => {
      this.expired = true;
      expire();
    }, timeoutMs);
  }

  /** Waits for `work` until the deadline; false if the deadline came first. A failure is logged, not thrown. */
  async inTime(what: string, work: Promise<unknown> | undefined): Promise<boolean> {
    if (work === undefined) return true;
    return (await Promise.race([this.settled(what, work), this.timedOut])) === 'done';
  }

  /** Closing steps come after the deadline too: each gets a few seconds more, then is given up. */
  async closing(what: string, work: Promise<unknown> | undefined): Promise<void> {
    if (work === undefined) return;
    let grace: NodeJS.Timeout | undefined;
    const given = new Promise<'late'>((resolve) => {
      grace = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
    });
    if ((await Promise.race([this.settled(what, work), given])) === 'late')
      this.logger.warn({ graceMs: CLOSE_GRACE_MS }, `stopping: ${what} did not finish; going on without it`);
    clearTimeout(grace);
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  /** 'done' once `work` is over; a failure is logged. */
  private settled(what: string, work: Promise<unknown>): Promise<'done'> {
    return work.then(
      () => 'done' as const,
      (error: unknown) => {
        this.logger.warn({ err: error }, `stopping: ${what} failed`);
        return 'done' as const;
      },
    );
  }
}

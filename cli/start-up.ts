/**
 * The main job's start-up, made stoppable and tidy: a stop requested while it
 * runs (the first SIGINT/SIGTERM) ends it at the step in progress, and what
 * it had opened is closed again, newest first; so does a failed step. The
 * known start-up failures (API port in use, Kafka unreachable, STATE_DIR not
 * writable) become one-line VeroaiErrors naming the cause and the fix.
 */
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { VeroaiError } from '../topology/errors.js';

/** Start-up ended because a stop was requested; everything it opened has been closed. */
export class StopRequestedDuringStartUp extends Error {
  constructor() {
    super('a stop was requested during start-up');
  }
}

/** How long closing one thing opened during a start-up that did not finish may take. */
const CLOSE_TIMEOUT_MS = 5_000;

export class StartUp {
  private readonly opened: Array<{
    readonly what: string;
    readonly close: () => Promise<unknown> | unknown;
  }> = [];

  constructor(
    private readonly stopRequested: AbortSignal | undefined,
    private readonly logger: Logger,
  ) {}

  /** Throws StopRequestedDuringStartUp if a stop has been requested. */
  check(): void {
    if (this.stopRequested?.aborted) throw new StopRequestedDuringStartUp();
  }

  /**
   * Waits for one step, unless a stop is requested first: then it throws
   * StopRequestedDuringStartUp at once, and what the step opens later is
   * closed with `close` as soon as it is there. A step's own failure is
   * thrown as is.
   */
  async step<T>(work: Promise<T>, close?: (opened: T) => Promise<unknown> | unknown): Promise<T> {
    const signal = this.stopRequested;
    const lateClose = () =>
      void work.then(
        (value) => close?.(value),
        () => undefined,
      );
    if (signal === undefined) return work;
    if (signal.aborted) {
      lateClose();
      throw new StopRequestedDuringStartUp();
    }
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new StopRequestedDuringStartUp());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work, aborted]);
    } catch (error) {
      if (error instanceof StopRequestedDuringStartUp) lateClose();
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** A step that opens something: waited for as `step()`, then remembered for `closeAll()`. */
  async open<T>(
    what: string,
    work: Promise<T>,
    close: (opened: T) => Promise<unknown> | unknown,
  ): Promise<T> {
    const value = await this.step(work, close);
    this.opened.push({ what, close: () => close(value) });
    return value;
  }

  /** Something opened without waiting, closed by `closeAll()`. */
  remember(what: string, close: () => Promise<unknown> | unknown): void {
    this.opened.push({ what, close });
  }

  /** Closes what was opened, newest first; each close is given a few seconds, then left behind. */
  async closeAll(): Promise<void> {
    for (const { what, close } of this.opened.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), CLOSE_TIMEOUT_MS);
      });
      const closed = Promise.resolve()
        .then(close)
        .then(
          () => 'closed' as const,
          (error: unknown) => {
            this.logger.debug({ err: error, what }, 'closing after an unfinished start-up failed');
            return 'closed' as const;
          },
        );
      if ((await Promise.race([closed, late])) === 'late')
        this.logger.warn(
          { what },
          'closing after an unfinished start-up takes too long; going on without it',
        );
      clearTimeout(timer);
    }
  }
}

/**
 * RocksDB stores live under STATE_DIR: it must be a directory this process
 * can write, found out now rather than at the first task's creation, after
 * the group join.
 */
export async function checkStateDir(stateDir: string): Promise<void> {
  try {
    await mkdir(stateDir, { recursive: true });
    await access(stateDir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new VeroaiError(
      'VEROAI_ERR_CONFIG',
      `STATE_DIR '${resolve(stateDir)}' is not a writable directory (${reason})`,
      {
        hint: 'point STATE_DIR at a directory this process can create and write, or use STATE_STORE=memory',
        cause: error,
      },
    );
  }
}

/** The API's `listen` failure, when it is a known one, as what to fix. */
export function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return new VeroaiError('VEROAI_ERR_PORT_IN_USE', `API_PORT ${port} is already in use on ${host}`, {
      hint: 'stop what listens there, or set API_PORT to a free port',
      cause: error,
    });
  if (code === 'EACCES')
    return new VeroaiError('VEROAI_ERR_PORT_IN_USE', `API_PORT ${port} on ${host}: permission denied`, {
      hint: 'use a port above 1023, or give the process the right to bind this one',
      cause: error,
    });
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new VeroaiError('VEROAI_ERR_CONFIG', `API_HOST '${host}' is not an address of this machine`, {
      hint: 'set API_HOST to a local address, e.g. 127.0.0.1, or 0.0.0.0 for all',
      cause: error,
    });
  return error;
}

/** kafkajs' error names that mean the brokers could not be reached (the CLI does not import kafkajs). */
const KAFKA_UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
]);

/** The application's start failure, when it means Kafka cannot be reached, as what to fix. */
export function kafkaStartError(error: unknown, brokers: readonly string[] | undefined): unknown {
  if (error instanceof VeroaiError) return error;
  let root: unknown = error;
  let unreachable = false;
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    root = e;
    if (KAFKA_UNREACHABLE.has(e.name)) unreachable = true;
  }
  if (!unreachable) return error;
  const reason = root instanceof Error ? root.message : String(root);
  return new VeroaiError(
    'VEROAI_ERR_KAFKA_UNREACHABLE',
    `cannot reach Kafka at ${(brokers ?? []).join(',')} (${reason})`,
    { hint: 'start Kafka, or point KAFKA_BROKERS at running brokers', cause: error },
  );
}

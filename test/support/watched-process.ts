/**
 * A spawned process as the process-level tests watch it: the end of its
 * output so far, its exit, and bounded waits on what it prints or on its
 * exit (a wait fails, saying what the process printed, if the process exits
 * first or the time runs out). Never a sleep: every wait is on a condition.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** When it exited (Date.now()). */
  readonly at: number;
}

export interface WatchOptions {
  /** Names it in failure messages. */
  readonly name: string;
  /** Keeps its whole stderr (a JSON log) in this file, for a failure's investigation. */
  readonly logFile?: string;
  /** Called once it has exited. */
  readonly onExit?: () => void;
}

/** Output kept per stream: enough for any failure message, bounded for long runs. */
const KEPT_CHARS = 200_000;

export class WatchedProcess {
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly child: ChildProcess,
    private readonly options: WatchOptions,
  ) {
    const log = options.logFile === undefined ? undefined : createWriteStream(options.logFile);
    child.stdout?.on('data', (chunk) => {
      this.stdout = (this.stdout + chunk).slice(-KEPT_CHARS);
      this.notify();
    });
    child.stderr?.on('data', (chunk) => {
      log?.write(chunk);
      this.stderr = (this.stderr + chunk).slice(-KEPT_CHARS);
      this.notify();
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        log?.end();
        options.onExit?.();
        this.notify();
        resolve(this.exit);
      }),
    );
  }

  /** Its state and the end of what it printed, for failure messages. */
  describe(): string {
    const state = this.exit === undefined ? 'running' : `exited ${JSON.stringify(this.exit)}`;
    const log = this.options.logFile === undefined ? '' : `, log ${this.options.logFile}`;
    return `${this.options.name} (pid ${this.child.pid}${log}) ${state}\n--- stdout (end)\n${this.stdout.slice(-3_000)}\n--- stderr (end)\n${this.stderr.slice(-5_000)}`;
  }

  /** Resolves once `pattern` appears in stdout or stderr; fails if the process exits first or `timeoutMs` passes. */
  printed(pattern: RegExp, timeoutMs: number): Promise<void> {
    return this.until(() => pattern.test(this.stdout) || pattern.test(this.stderr), `${pattern}`, timeoutMs);
  }

  /** Resolves with the exit once the process has exited; fails after `timeoutMs`. */
  async exitsWithin(timeoutMs: number): Promise<Exit & { afterMs: number }> {
    const start = Date.now();
    await this.until(() => this.exit !== undefined, 'an exit', timeoutMs, true);
    return { ...this.exit!, afterMs: Date.now() - start };
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
  }

  /**
   * Resolves once `check` holds; fails naming `what` after `timeoutMs`, or as
   * soon as the process exits unless its exit is the answer awaited.
   */
  until(check: () => boolean, what: string, timeoutMs: number, exitIsAnswer = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = () => {
        if (check()) finish();
        else if (!exitIsAnswer && this.exit !== undefined)
          finish(new Error(`waiting for ${what}: the process exited\n${this.describe()}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`waiting for ${what}: nothing after ${timeoutMs} ms\n${this.describe()}`)),
        timeoutMs,
      );
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(test);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.waiters.add(test);
      test();
    });
  }

  private notify(): void {
    for (const test of [...this.waiters]) test();
  }
}

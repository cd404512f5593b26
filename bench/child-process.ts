/**
 * Bench parts that run in a process of their own: a load generator that must
 * not share the event loop of what it measures, or a topology whose resident
 * memory is measured alone. The job goes over IPC, the result comes back the
 * same way, and so may progress reports on the way.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { STREAMING_NODE_FLAGS } from '../cli/node-flags.js';

/** What a child sends on its way to the result (see `report`). */
interface Progress {
  readonly progress: unknown;
}

const isProgress = (message: unknown): message is Progress =>
  typeof message === 'object' && message !== null && 'progress' in message;

/**
 * Runs `module` (a bench file that calls `serveJob`) in a child process with
 * `job`; resolves with its result. What the child `report`s meanwhile goes to
 * `onProgress`.
 */
export function runInChild<Job, Result>(
  module: URL,
  job: Job,
  nodeOptions: readonly string[] = [],
  onProgress: (progress: unknown) => void = () => undefined,
): Promise<Result> {
  return startInChild<Job, Result>(module, job, nodeOptions, onProgress).result;
}

/** As runInChild, with the child at hand: e.g. to send it a message that ends its job. */
export function startInChild<Job, Result>(
  module: URL,
  job: Job,
  nodeOptions: readonly string[] = [],
  onProgress: (progress: unknown) => void = () => undefined,
): { readonly child: ChildProcess; readonly result: Promise<Result> } {
  // as the product runs (cli/node-flags.ts); flags in nodeOptions come later and override them
  const child = fork(fileURLToPath(module), {
    execArgv: ['--import', 'tsx', ...STREAMING_NODE_FLAGS, ...nodeOptions],
  });
  const result = new Promise<Result>((resolve, reject) => {
    child.on('message', (message) => {
      if (isProgress(message)) onProgress(message.progress);
      else resolve(message as Result);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${fileURLToPath(module)} exited with ${code}`));
    });
  });
  child.send(job as object);
  return { child, result };
}

/** In a module started by `runInChild`: runs `handler` on the job and sends its result back, then exits. */
export function serveJob<Job, Result>(handler: (job: Job) => Promise<Result>): void {
  const parent = process.send?.bind(process);
  if (parent === undefined) return;
  process.once('message', (job: Job) => {
    handler(job).then(
      (result) => parent(result as object, () => process.exit(0)),
      (error: unknown) => {
        process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

/** In a module started by `runInChild`: sends `progress` to the parent's `onProgress`. */
export function report(progress: unknown): void {
  process.send?.({ progress } satisfies Progress);
}

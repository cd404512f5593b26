/**
 * Worker processes for the integration tests (test/integration/fixtures/*-worker.ts,
 * built on worker-harness.ts): spawned with tsx, their JSON log kept in the
 * temp dir for a failure's investigation, observed through their progress
 * lines, stopped by a signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const running = new Set<ChildProcess>();

export interface Worker {
  readonly child: ChildProcess;
  /** Resolves once the worker reports records consumed; rejects if it exits first. */
  readonly busy: Promise<void>;
}

/** Starts `test/integration/fixtures/<name>.ts` with the environment given. */
export function startWorker(name: string, env: Record<string, string>): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'test', 'integration', 'fixtures', `${name}.ts`)],
    {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr!.pipe(createWriteStream(join(tmpdir(), `veroai-${name}-${child.pid}.log`)));
  running.add(child);
  child.on('exit', () => running.delete(child));
  const busy = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const m = /consumed (\d+)/.exec(chunk.toString());
      if (m !== null && Number(m[1]) > 0) resolve();
    });
    child.on('exit', (code, signal) =>
      reject(new Error(`worker ${name} exited (${code ?? signal}) before consuming`)),
    );
  });
  busy.catch(() => undefined);
  return { child, busy };
}

/** Sends `signal` and waits for the worker to exit (at once if it already has). */
export async function stopWorker(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill(signal);
  await exited;
}

/** Kills every worker still running (for afterAll). */
export function killAllWorkers(): void {
  for (const child of running) child.kill('SIGKILL');
}

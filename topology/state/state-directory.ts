import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VeroaiError } from '../errors.js';

/** The name of a task's directory: `<sub-topology>_<partition>`. Nothing else under the application's directory is touched. */
const TASK_DIRECTORY = /^\d+_\d+$/;
const LOCK_FILE = '.lock';

/**
 * An application's state directory, `<stateDir>/<applicationId>`, held by
 * one process at a time (Kafka Streams' StateDirectory): two instances
 * sharing it would open, restore and delete each other's task directories.
 * The lock is a file holding the owner's pid; a lock left by a process that
 * no longer runs (a SIGKILL) is taken over, so a restart is never held up.
 *
 * Task directories outlive their tasks: a task that comes back to this
 * instance restores only the changelog after its checkpoint. Those of tasks
 * that went elsewhere are deleted once they have been left alone for the
 * cleanup delay (Kafka Streams' `state.cleanup.delay.ms`), by
 * removeUnownedTasks; a task's state marks its directory when it opens
 * and closes (TaskState), so the delay counts from the last time it was
 * used here.
 */
export class StateDirectory {
  private constructor(readonly path: string) {}

  /** Creates `<root>/<applicationId>` if needed and takes its lock, or throws `VEROAI_ERR_STATE_DIR_IN_USE`. */
  static async lock(root: string, applicationId: string): Promise<StateDirectory> {
    const path = join(root, applicationId);
    await mkdir(path, { recursive: true });
    const lockFile = join(path, LOCK_FILE);
    // written whole first, then linked into place: a lock file is never seen empty
    const candidate = `${lockFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(candidate, `${process.pid}\n`);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await link(candidate, lockFile);
          return new StateDirectory(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
        }
        await StateDirectory.unlockIfStale(path, lockFile);
      }
    } finally {
      await unlink(candidate).catch(() => undefined);
    }
  }

  /** Throws when the lock's owner runs; removes a lock its owner left behind (killed without a stop). */
  private static async unlockIfStale(path: string, lockFile: string): Promise<void> {
    const owner = await lockOwner(lockFile);
    if (owner !== undefined && (owner === process.pid || isRunning(owner)))
      throw new VeroaiError(
        'VEROAI_ERR_STATE_DIR_IN_USE',
        `the state directory '${path}' is in use by process ${owner}${owner === process.pid ? ' (this one: another instance of the application)' : ''}`,
      );
    await unlink(lockFile).catch(() => undefined);
  }

  /** Gives the lock up (a clean stop, or a failed one). */
  async release(): Promise<void> {
    const lockFile = join(this.path, LOCK_FILE);
    if ((await lockOwner(lockFile)) === process.pid) await unlink(lockFile).catch(() => undefined);
  }

  /**
   * Deletes the directories of tasks this instance does not own that were
   * last modified more than `delayMs` ago; returns their task ids. The caller
   * runs it between assignment changes, so no task it deletes is being opened.
   */
  async removeUnownedTasks(owned: ReadonlySet<string>, delayMs: number, now = Date.now()): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await readdir(this.path, { withFileTypes: true })) {
      if (!entry.isDirectory() || !TASK_DIRECTORY.test(entry.name) || owned.has(entry.name)) continue;
      const directory = join(this.path, entry.name);
      const modified = await stat(directory).then(
        (s) => s.mtimeMs,
        () => undefined,
      );
      if (modified === undefined || now - modified < delayMs) continue;
      await rm(directory, { recursive: true, force: true });
      removed.push(entry.name);
    }
    return removed;
  }
}

async function lockOwner(lockFile: string): Promise<number | undefined> {
  const text = await readFile(lockFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

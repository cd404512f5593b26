import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VeroaiError } from '../errors.js';

const VERSION = 0;

/**
 * A task's local checkpoint, `<STATE_DIR>/<applicationId>/<taskId>/.checkpoint`,
 * in Kafka Streams' format: a version line, a count line, then one
 * `<changelog topic> <partition> <offset>` line per persistent store, the
 * offset being the changelog position the store's files hold everything up
 * to. A store with an entry restores only the changelog after it.
 */
export class CheckpointFile {
  readonly path: string;

  constructor(taskDirectory: string) {
    this.path = join(taskDirectory, '.checkpoint');
  }

  /** The offsets by `topic:partition`; empty when there is no checkpoint. A corrupt file is an error naming it. */
  async read(): Promise<Map<string, number>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const offsets = new Map<string, number>();
    const count = Number(lines[1]);
    const entries = lines.slice(2).map((l) => l.trim().split(/\s+/));
    const valid =
      Number(lines[0]) === VERSION &&
      count === entries.length &&
      entries.every(
        (e) => e.length === 3 && Number.isInteger(Number(e[1])) && Number.isInteger(Number(e[2])),
      );
    if (!valid) {
      throw new VeroaiError('VEROAI_ERR_STATE_STORE', `the checkpoint file '${this.path}' is corrupt`, {
        hint: 'delete it: the task then restores its stores from their changelogs',
      });
    }
    for (const [topic, partition, offset] of entries) offsets.set(`${topic}:${partition}`, Number(offset));
    return offsets;
  }

  /** Replaces the checkpoint atomically (write a temporary file, then rename). */
  async write(entries: ReadonlyArray<{ topic: string; partition: number; offset: number }>): Promise<void> {
    const lines = [
      String(VERSION),
      String(entries.length),
      ...entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`),
    ];
    await mkdir(join(this.path, '..'), { recursive: true });
    const temporary = `${this.path}.tmp`;
    await writeFile(temporary, `${lines.join('\n')}\n`);
    await rename(temporary, this.path);
  }

  async delete(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

/**
 * Writes a persistent store has accepted but not yet written to disk. They
 * stay readable while a flush writes them (reads look at the newest layer
 * first), and flushes run one after another so that a newer write is never
 * overtaken on disk by an older one.
 */
export class WriteBuffer<E> {
  private pending = new Map<string, E>();
  /** Layers being written by a flush, oldest first. */
  private readonly writing: Array<Map<string, E>> = [];
  private chain: Promise<void> = Promise.resolve();

  /** The newest buffered entry for `id`, if any. */
  get(id: string): E | undefined {
    const entry = this.pending.get(id);
    if (entry !== undefined) return entry;
    for (let i = this.writing.length - 1; i >= 0; i--) {
      const older = this.writing[i]!.get(id);
      if (older !== undefined) return older;
    }
    return undefined;
  }

  set(id: string, entry: E): void {
    this.pending.set(id, entry);
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Writes what is pending with `write`, after any flush already running; the
   * entries stay readable until `write` resolves.
   */
  flush(write: (entries: ReadonlyMap<string, E>) => Promise<void>): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.pending.size === 0) return write(new Map());
      const layer = this.pending;
      this.pending = new Map();
      this.writing.push(layer);
      try {
        await write(layer);
      } finally {
        this.writing.splice(this.writing.indexOf(layer), 1);
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}

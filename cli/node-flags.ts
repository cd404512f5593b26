/**
 * The Node.js flags a stream processor's process runs with: given by the
 * `veroai` launcher's shebang (bin/veroai.js), the npm scripts that run it
 * through tsx, the image's entrypoint (deploy/app.Dockerfile) and the benches'
 * child processes. A test keeps those places equal to this list.
 *
 * Why. A batch's state (its records, the sessions and values it read, its
 * changelog entries and output) lives for the whole batch, a few hundred
 * milliseconds. With V8's default young generation (16 MiB semi-spaces) a
 * scavenge comes every ~80 ms at 12k records/s, so that state survives two
 * and is copied to the old generation; V8 then pretenures the allocation
 * sites whose objects survive, and from there on allocates them straight into
 * the old generation, which only full collections clear. Measured on the
 * session-count bench (1M records, 100k keys): half of all allocated bytes
 * outlived a scavenge, and collection was a quarter of the main thread.
 *
 * - `--max-semi-space-size=32`: 32 MiB semi-spaces (twice V8's default), so
 *   more of a batch's state dies young. Costs ~35 MiB more resident memory.
 * - `--no-allocation-site-pretenuring`: objects are always born young. With
 *   larger semi-spaces alone, sites were still pretenured; with 128 MiB
 *   semi-spaces (and pretenuring) nearly everything was, and throughput
 *   halved.
 *
 * Measured in README, "Benchmarks". 64 MiB semi-spaces are faster still
 * (session-count 15.4–16.2k records/s against 14.3k with 32 and 11.5–12.7k
 * without either flag) but cost ~65 MiB more resident memory: the session
 * bench's 1M open sessions then peak at 459 MB, past its 400 MB budget, where
 * 32 MiB gives 392 MB. An operator with the memory runs
 * `node --max-semi-space-size=64 --no-allocation-site-pretenuring bin/veroai.js run`
 * (NODE_OPTIONS cannot raise it: the launcher's own flags come after it and
 * win; nor can it carry `--no-allocation-site-pretenuring`).
 */
export const STREAMING_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=32',
  '--no-allocation-site-pretenuring',
];

/**
 * The application's state directory: one process holds it at a time (a lock
 * left by a killed process is taken over), and the local state of tasks this
 * instance no longer runs is deleted once left alone for the cleanup delay,
 * never the state of a task it runs (Kafka Streams' StateDirectory and
 * `state.cleanup.delay.ms`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type KeyValueStore,
  partitionForKey,
  Serdes,
  StreamsApplication,
  TopologyBuilder,
  VeroaiError,
} from '../../../topology/index.js';
import { StateDirectory } from '../../../topology/state/state-directory.js';
import { MemoryTransport } from '../../../topology/transports/memory/memory-transport.js';
import { until } from '../../support/until.js';

const directories: string[] = [];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  for (const d of directories.splice(0)) await rm(d, { recursive: true, force: true });
});

async function freshRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'veroai-state-directory-'));
  directories.push(root);
  return root;
}

async function inUse(attempt: Promise<unknown>): Promise<string> {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VeroaiError);
  expect((error as VeroaiError).code).toBe('VEROAI_ERR_STATE_DIR_IN_USE');
  return (error as VeroaiError).message;
}

describe('the state directory lock', () => {
  it('is held by one holder at a time and taken again once released', async () => {
    const root = await freshRoot();
    const first = await StateDirectory.lock(root, 'app');
    expect(await inUse(StateDirectory.lock(root, 'app'))).toMatch(
      new RegExp(`'${join(root, 'app')}' is in use by process ${process.pid} \\(this one`),
    );
    // another application's directory is another lock
    await (await StateDirectory.lock(root, 'other-app')).release();
    await first.release();
    await (await StateDirectory.lock(root, 'app')).release();
  });

  it('refuses while another process that holds it runs, and takes it over once that process was killed', async () => {
    const root = await freshRoot();
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = once(holder, 'exit');
    try {
      mkdirSync(join(root, 'app'), { recursive: true });
      writeFileSync(join(root, 'app', '.lock'), `${holder.pid}\n`);
      expect(await inUse(StateDirectory.lock(root, 'app'))).toContain(`in use by process ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
      await exited;
    }
    const taken = await StateDirectory.lock(root, 'app');
    // a lock file that names no process (written by hand, truncated) is no lock either
    await taken.release();
    writeFileSync(join(root, 'app', '.lock'), 'garbage');
    await (await StateDirectory.lock(root, 'app')).release();
    expect((await readdir(join(root, 'app'))).filter((f) => f.startsWith('.lock'))).toEqual([]);
  });
});

describe('cleaning the state directory', () => {
  it('deletes the task directories not owned and left alone longer than the delay, and nothing else', async () => {
    const root = await freshRoot();
    const directory = await StateDirectory.lock(root, 'app');
    stops.push(() => directory.release());
    const now = Date.now();
    const age = (name: string, ms: number) => {
      const path = join(root, 'app', name);
      mkdirSync(join(path, 'store'), { recursive: true });
      const t = new Date(now - ms);
      utimesSync(path, t, t);
    };
    age('0_0', 3_600_000); // owned, however old
    age('0_1', 3_600_000); // not owned, old: deleted
    age('1_2', 60_000); // not owned, recent
    age('notes', 3_600_000); // not a task directory
    writeFileSync(join(root, 'app', '2_0'), 'a file named like a task');
    const removed = await directory.removeUnownedTasks(new Set(['0_0']), 600_000, now);
    expect(removed).toEqual(['0_1']);
    expect((await readdir(join(root, 'app'))).sort()).toEqual(['.lock', '0_0', '1_2', '2_0', 'notes']);
    // later, the recent one is old enough
    expect(await directory.removeUnownedTasks(new Set(['0_0']), 600_000, now + 600_000)).toEqual(['1_2']);
  });
});

async function counted(app: StreamsApplication, word: string): Promise<number | undefined> {
  const store = app.queryStore<KeyValueStore<string, number>>('word-counts', word);
  return (await store?.get(word)) ?? undefined;
}

describe('a StreamsApplication with persistent stores', () => {
  function counting() {
    const builder = new TopologyBuilder();
    builder
      .stream('words', { key: Serdes.string, value: Serdes.string })
      .groupByKey()
      .count({ name: 'word-counts' });
    return builder.build();
  }

  async function started(root: string, transport: MemoryTransport, stateCleanupDelayMs?: number) {
    const app = new StreamsApplication(counting(), {
      applicationId: 'words-app',
      transport,
      stateDir: root,
      defaultStoreType: 'rocksdb',
      ...(stateCleanupDelayMs === undefined ? {} : { stateCleanupDelayMs }),
      logger: pino({ level: 'silent' }),
      metricsRegistry: new Registry(),
    });
    return app;
  }

  it('holds its state directory while it runs: a second instance on it fails to start, a later one starts', async () => {
    const root = await freshRoot();
    const transport = new MemoryTransport();
    await transport.ensureTopics([{ name: 'words', partitions: 2 }]);
    stops.push(() => transport.close());
    const first = await started(root, transport);
    await first.start();
    const second = await started(root, transport);
    expect(await inUse(second.start())).toContain(join(root, 'words-app'));
    expect(second.state).toBe('failed');
    await second.stop();
    // the failed start released nothing of the first's
    expect(existsSync(join(root, 'words-app', '.lock'))).toBe(true);
    await first.stop();
    expect(existsSync(join(root, 'words-app', '.lock'))).toBe(false);
    const third = await started(root, transport);
    await third.start();
    await third.stop();
  });

  it("deletes the state of a task it does not run once left for the delay, and keeps its own tasks'", async () => {
    const root = await freshRoot();
    const transport = new MemoryTransport();
    await transport.ensureTopics([{ name: 'words', partitions: 2 }]);
    stops.push(() => transport.close());
    // a task of a partition this instance ran once (the topic had three partitions then), untouched since
    const gone = join(root, 'words-app', '0_7');
    mkdirSync(join(gone, 'word-counts'), { recursive: true });
    const old = new Date(Date.now() - 60_000);
    utimesSync(gone, old, old);
    // the input is there before the start: the memory log delivers what it holds when the group joins
    for (const word of ['word-0', 'word-1']) {
      const key = Buffer.from(word);
      transport.log.append({
        topic: 'words',
        partition: partitionForKey(key, 2, () => 0),
        key,
        value: key,
        timestamp: 1,
      });
    }
    const app = await started(root, transport, 300);
    stops.push(() => app.stop());
    await app.start();
    await until(() => !existsSync(gone), 'the old task directory deleted', 30_000, 20);
    await until(async () => (await counted(app, 'word-0')) === 1, 'the word counted', 30_000, 20);
    // its own tasks keep their state however old their directories are: a round that deletes a second
    // stale directory has seen them old
    expect([...app.activeTasks().keys()].sort()).toEqual(['0_0', '0_1']);
    for (const task of ['0_0', '0_1']) utimesSync(join(root, 'words-app', task), old, old);
    mkdirSync(join(root, 'words-app', '0_9'));
    utimesSync(join(root, 'words-app', '0_9'), old, old);
    await until(
      () => !existsSync(join(root, 'words-app', '0_9')),
      'the second old task directory deleted',
      30_000,
      20,
    );
    expect((await readdir(join(root, 'words-app'))).sort()).toEqual(['.lock', '0_0', '0_1']);
    expect(await counted(app, 'word-0')).toBe(1);
    expect(await counted(app, 'word-1')).toBe(1);
  });
});

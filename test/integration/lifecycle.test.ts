/**
 * The process's lifecycle, end to end: `veroai` is spawned as an operator runs
 * it (in a terminal, or with its output redirected), sent signals, and judged
 * by its exit code, its output and what it leaves in its consumer group.
 *
 * Exit codes (cli/lifecycle.ts): 0 clean stop, 1 fatal error, 2 configuration
 * error, 3 stop deadline passed, 130/143 a second SIGINT/SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import type { ConsumerListener } from '../../topology/transports/transport.js';
import { freePort } from '../support/free-port.js';
import { startPrivateRedis } from '../support/redis.js';
import { until } from '../support/until.js';
import { WatchedProcess } from '../support/watched-process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'veroai.js');

const running: WatchedProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const process of running.splice(0)) process.kill();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Environment of one test's process: its own API port, state directory and application id. */
async function baseEnv(extra: Record<string, string>): Promise<Record<string, string>> {
  return {
    LOG_LEVEL: 'info',
    API_PORT: String(await freePort()),
    STATE_DIR: mkdtempSync(join(tmpdir(), 'veroai-lifecycle-')),
    APPLICATION_ID: uniqueName('lifecycle'),
    SAMPLE_EVENTS_PER_SECOND: '200',
    ...extra,
  };
}

/** `veroai <args>` with its output redirected (pipes), as under a supervisor or in CI. */
function veroai(args: string[], env: Record<string, string>): WatchedProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spawned = new WatchedProcess(child, { name: 'veroai' });
  running.push(spawned);
  return spawned;
}

/**
 * `veroai <args>` in a terminal: util-linux `script` gives it a pseudo-terminal
 * (stdout.isTTY, so the demo's live screen is on), and bytes written to the
 * returned process's stdin are typed at that terminal (\x03 is Ctrl-C, which
 * the terminal turns into SIGINT for the foreground process). `script -e`
 * exits with veroai's exit code (128 + n when a signal killed it).
 */
function veroaiInTerminal(
  args: string[],
  env: Record<string, string>,
): WatchedProcess & { pid: () => number } {
  return inTerminal([process.execPath, bin, ...args], env);
}

/** `command` in a terminal, as veroaiInTerminal: its pid, and its stdin typed at the terminal. */
function inTerminal(command: string[], env: Record<string, string>): WatchedProcess & { pid: () => number } {
  const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // a terminal of a real size (a pty starts at 0x0, where the screen library draws nothing)
  const shell = `stty cols 160 rows 50; echo "veroai-pid=$$"; cd '${root}' && exec ${quoted}`;
  const child = spawn('script', ['-qfec', shell, '/dev/null'], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const spawned = Object.assign(new WatchedProcess(child, { name: 'veroai' }), {
    pid: () => Number(/veroai-pid=(\d+)/.exec(spawned.stdout)?.[1]),
  });
  running.push(spawned);
  cleanups.push(() => {
    // the process inside the terminal, should the test fail before it exits
    const pid = spawned.pid();
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return spawned;
}

/** The process at the end of `pid`'s chain of children (under `npm start`: the job itself). */
function deepestDescendant(pid: number): number {
  for (;;) {
    const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .stdout.trim()
      .split(/\s+/)
      .filter((p) => p !== '');
    if (children.length === 0) return pid;
    pid = Number(children.at(-1));
  }
}

/** A TCP server that accepts connections and never answers; `connected` resolves at the first one. */
async function silentServer(): Promise<{ port: number; connected: Promise<void> }> {
  const sockets = new Set<Socket>();
  let connected!: () => void;
  const first = new Promise<void>((resolve) => {
    connected = resolve;
  });
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    connected();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as { port: number }).port, connected: first };
}

/** The lines a person reads on stderr: everything but the JSON log lines. */
function humanLines(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('{'));
}

/** A stack trace's frame, as Node prints it. */
const STACK_FRAME = /^\s*at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

/** Members of a consumer group, as the broker describes it. */
async function groupMembers(brokers: readonly string[], groupId: string): Promise<number> {
  const admin = new Kafka({
    clientId: 'veroai-lifecycle-test',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups[0]?.members.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** Waits (bounded) until a group has at least one member: the instance has joined. */
async function joined(brokers: readonly string[], groupId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await groupMembers(brokers, groupId)) === 0) {
    if (Date.now() > deadline) throw new Error(`group ${groupId}: no member after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('signals', () => {
  it('Ctrl-C in a terminal stops the demo cleanly (exit 0), the live screen notwithstanding', async () => {
    const demo = veroaiInTerminal(['demo'], await baseEnv({}));
    // the screen has drawn: the screen library's own SIGINT listener is in place
    await demo.printed(/events\/s +\d+/, 60_000);
    demo.child.stdin!.write('\x03');
    await demo.printed(/SIGINT: stopping cleanly/, 10_000);
    const exit = await demo.exitsWithin(30_000);
    expect(exit.code, demo.describe()).toBe(0);
    expect(demo.stdout).toMatch(/"msg":"stopped"/);
  }, 120_000);

  it('npm start: Ctrl-C in a terminal while the job is busy is one clean stop, the state directory given back', async () => {
    // the demo's own traffic and log level, as `npm start` runs it
    const { SAMPLE_EVENTS_PER_SECOND: _rate, LOG_LEVEL: _level, ...env } = await baseEnv({ API_PORT: '0' });
    const npm = inTerminal(['npm', 'start'], env);
    await npm.printed(/features written +[1-9]/, 60_000);
    const lock = join(env.STATE_DIR!, env.APPLICATION_ID!, '.lock');
    expect(existsSync(lock), npm.describe()).toBe(true);
    // the job's event loop busy for half a second when Ctrl-C comes (a long batch, a loaded machine): a
    // launcher between npm and the job that relays the signal when the job does not answer within
    // milliseconds (tsx's CLI) would kill it; the signal must wait for the job's own handler
    const job = deepestDescendant(npm.pid());
    process.kill(job, 'SIGSTOP');
    npm.child.stdin!.write('\x03');
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      process.kill(job, 'SIGCONT');
    } catch {
      // gone: something killed the job while it was busy (what the next line reports)
    }
    await npm.printed(/SIGINT: stopping cleanly/, 10_000);
    // npm itself exits 130 on SIGINT, whatever the job did: the job's clean stop shows in what it gives back
    await npm.exitsWithin(30_000);
    await until(() => !existsSync(lock), `the lock given back: ${npm.describe()}`, 30_000, 50);
    expect(npm.stdout, npm.describe()).not.toMatch(/SIGINT again/);
  }, 120_000);

  it('with its output redirected: the first SIGTERM starts a clean stop, a second exits at once with 143', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    // a stop that cannot finish: Redis goes away, the batch in progress retries its write
    const run = veroai(['run'], await baseEnv({ REDIS_URL: redis.url, STOP_TIMEOUT_MS: '60000' }));
    await run.printed(/running on the memory transport/, 60_000);
    await redis.stop();
    await run.printed(/sink write failed; retrying/, 30_000);
    run.child.kill('SIGTERM');
    await run.printed(/SIGTERM: stopping cleanly/, 10_000);
    run.child.kill('SIGTERM');
    const exit = await run.exitsWithin(10_000);
    expect(exit.code, run.describe()).toBe(143);
    expect(humanLines(run.stderr).at(-1)).toMatch(/SIGTERM again: exiting at once/);
  }, 120_000);
});

describe('start-up', () => {
  let brokers: string[];

  beforeAll(async () => {
    brokers = await ensureKafka();
    const topics = spawnSync(process.execPath, [bin, 'topics', 'create'], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', KAFKA_BROKERS: brokers.join(',') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (topics.status !== 0) throw new Error(`veroai topics create failed: ${topics.stderr}`);
  });

  it('SIGTERM while connecting to Redis stops at once with exit 0 and never reports running', async () => {
    const redis = await silentServer();
    const run = veroai(['run'], await baseEnv({ REDIS_URL: `redis://127.0.0.1:${redis.port}` }));
    await redis.connected;
    run.child.kill('SIGTERM');
    const exit = await run.exitsWithin(15_000);
    expect(exit.code, run.describe()).toBe(0);
    expect(run.stderr).not.toMatch(/running on the|"to":"running"/);
  }, 60_000);

  it('SIGTERM while the application starts on Kafka stops cleanly (exit 0): no running after it, the group left', async () => {
    const env = await baseEnv({ TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(',') });
    const run = veroai(['run'], env);
    await run.printed(/"to":"starting"/, 60_000);
    run.child.kill('SIGTERM');
    const signalledAt = run.stderr.length;
    const exit = await run.exitsWithin(60_000);
    expect(exit.code, run.describe()).toBe(0);
    expect(run.stderr.slice(signalledAt), run.describe()).not.toMatch(/running on the|"to":"running"/);
    expect(await groupMembers(brokers, env.APPLICATION_ID!)).toBe(0);
  }, 120_000);

  it('an API port in use: exit 1 with one line naming the port, never running', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as { port: number }).port;
    const run = veroai(['run'], await baseEnv({ API_PORT: String(port) }));
    const exit = await run.exitsWithin(30_000);
    expect(exit.code, run.describe()).toBe(1);
    const lines = humanLines(run.stderr);
    expect(lines, run.describe()).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`API_PORT.*${port}.*in use`));
    expect(run.stderr).not.toMatch(STACK_FRAME);
    expect(run.stderr).not.toMatch(/running on the|"to":"running"/);
  }, 60_000);

  it('a broker that cannot be reached: exit 1 within a bound, with one line naming the brokers', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const run = veroai(
      ['run'],
      await baseEnv({ TRANSPORT: 'kafka', KAFKA_BROKERS: closed, LOG_LEVEL: 'error' }),
    );
    const exit = await run.exitsWithin(90_000);
    expect(exit.code, run.describe()).toBe(1);
    const lines = humanLines(run.stderr);
    expect(lines, run.describe()).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`Kafka.*${closed.replace(/\./g, '\\.')}.*KAFKA_BROKERS`));
    expect(run.stderr).not.toMatch(STACK_FRAME);
    expect(run.stderr).not.toMatch(/running on the/);
  }, 120_000);

  it('a STATE_DIR another running instance holds: exit 2 with one line naming it and the process; a SIGKILLed holder does not block a restart', async () => {
    const env = await baseEnv({});
    const holder = veroai(['run'], env);
    await holder.printed(/running on the memory transport/, 60_000);
    const second = veroai(['run'], { ...env, API_PORT: '0' });
    const exit = await second.exitsWithin(30_000);
    expect(exit.code, second.describe()).toBe(2);
    const lines = humanLines(second.stderr);
    expect(lines, second.describe()).toHaveLength(1);
    expect(lines[0]).toContain(`state directory '${join(env.STATE_DIR!, env.APPLICATION_ID!)}'`);
    expect(lines[0]).toMatch(new RegExp(`in use by process ${holder.child.pid}; .*STATE_DIR`));
    expect(second.stderr).not.toMatch(STACK_FRAME);
    expect(second.stderr).not.toMatch(/running on the|"to":"running"/);
    // the holder killed without a stop leaves its lock behind: the next instance takes it over
    holder.child.kill('SIGKILL');
    await holder.exitsWithin(30_000);
    const restart = veroai(['run'], { ...env, API_PORT: '0' });
    await restart.printed(/running on the memory transport/, 60_000);
    restart.child.kill('SIGTERM');
    expect((await restart.exitsWithin(60_000)).code, restart.describe()).toBe(0);
  }, 180_000);

  it('a STATE_DIR that cannot be written: exit 2 with one line naming it, never running', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'veroai-lifecycle-')), 'a-file');
    writeFileSync(file, 'not a directory');
    const run = veroai(['run'], await baseEnv({ STATE_DIR: join(file, 'state') }));
    const exit = await run.exitsWithin(30_000);
    expect(exit.code, run.describe()).toBe(2);
    const lines = humanLines(run.stderr);
    expect(lines, run.describe()).toHaveLength(1);
    expect(lines[0]).toMatch(/STATE_DIR.*a-file\/state/);
    expect(run.stderr).not.toMatch(/running on the|"to":"running"/);
  }, 60_000);
});

describe('fatal errors and the stop deadline', () => {
  let brokers: string[];

  beforeAll(async () => {
    brokers = await ensureKafka();
  });

  it('a sink down past its retries: the instance leaves its group and exits 1 with one line naming the cause', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const env = await baseEnv({
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: brokers.join(','),
      REDIS_URL: redis.url,
      SINK_MAX_OUTAGE_MS: '3000',
      // a fatal error waits for nothing in flight: this deadline is never reached
      STOP_TIMEOUT_MS: '60000',
    });
    // the demo feeds its own traffic on Kafka too
    const demo = veroai(['demo', '--kafka'], env);
    await demo.printed(/"to":"running"/, 60_000);
    await joined(brokers, env.APPLICATION_ID!, 60_000);
    await redis.stop();
    const exit = await demo.exitsWithin(3_000 + 30_000);
    expect(exit.code, demo.describe()).toBe(1);
    // the cause and, after '; ', the fix
    expect(humanLines(demo.stderr).at(-1), demo.describe()).toMatch(/Redis.*; \S/);
    expect(demo.stderr).not.toMatch(STACK_FRAME);
    // left, not timed out: the group is empty the moment the process is gone
    expect(await groupMembers(brokers, env.APPLICATION_ID!)).toBe(0);
  }, 180_000);

  it('a stop held up by a sink outage ends at STOP_TIMEOUT_MS: in-flight batches abandoned, the group left, exit 3', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const env = await baseEnv({
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: brokers.join(','),
      REDIS_URL: redis.url,
      STOP_TIMEOUT_MS: '3000',
    });
    const demo = veroai(['demo', '--kafka'], env);
    await demo.printed(/"to":"running"/, 60_000);
    await joined(brokers, env.APPLICATION_ID!, 60_000);
    await redis.stop();
    await demo.printed(/sink write failed; retrying/, 30_000);
    demo.child.kill('SIGTERM');
    const exit = await demo.exitsWithin(3_000 + 12_000);
    expect(exit.code, demo.describe()).toBe(3);
    expect(humanLines(demo.stderr).at(-1)).toMatch(/STOP_TIMEOUT_MS/);
    expect(await groupMembers(brokers, env.APPLICATION_ID!)).toBe(0);
  }, 180_000);

  it('the kafka consumer: a crash is reported once through onError, and it neither restarts nor stays in its group', async () => {
    const topic = uniqueName('lifecycle-crash');
    const groupId = uniqueName('lifecycle-crash-group');
    const transport = new KafkaTransport({ brokers, clientId: 'veroai-lifecycle-test' });
    cleanups.push(() => transport.close());
    await transport.ensureTopics([{ name: topic, partitions: 1 }]);
    const producer = await transport.producer();
    await producer.send([{ topic, partition: 0, key: null, value: Buffer.from('x'), timestamp: Date.now() }]);
    await producer.close();

    const consumer = transport.consumer({ groupId, topics: [topic] });
    const errors: unknown[] = [];
    let batchesAfterError = 0;
    let reported!: () => void;
    const errorReported = new Promise<void>((resolve) => {
      reported = resolve;
    });
    const listener: ConsumerListener = {
      onAssigned: async () => undefined,
      onRevoked: async () => undefined,
      onBatch: async () => {
        if (errors.length > 0) batchesAfterError += 1;
        throw new Error('this batch always fails');
      },
      onError: (error) => {
        errors.push(error);
        reported();
      },
    };
    await consumer.start(listener);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      errorReported,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no onError within 60 s')), 60_000);
      }),
    ]);
    clearTimeout(timer);
    expect(errors).toHaveLength(1);
    expect(String((errors[0] as Error).message)).toMatch(/this batch always fails|consumer/);
    // kafkajs' default would rejoin after a crash; this one is gone for good
    expect(await groupMembers(brokers, groupId)).toBe(0);
    await consumer.stop();
    expect(batchesAfterError).toBe(0);
    expect(await groupMembers(brokers, groupId)).toBe(0);
  }, 120_000);
});

afterAll(() => {
  for (const process of running.splice(0)) process.kill();
});

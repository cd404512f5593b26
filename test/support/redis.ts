import { execFileSync, spawn } from 'node:child_process';
import { connectRedis, deleteKeysWithPrefix, type RedisClient } from '../../sinks/index.js';

export { deleteKeysWithPrefix };

/** The Redis the integration tests use: REDIS_URL, else the local default. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses, so parallel suites never see each other's keys. */
export function uniqueKeyPrefix(suite: string): string {
  return `veroai-test:${suite}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Connects to the tests' Redis. When nothing answers on a local address and
 * `redis-server` is installed, starts one (no persistence) rather than
 * skipping: the suite brings what it needs.
 */
export async function connectTestRedis(): Promise<RedisClient> {
  try {
    return await connectRedis(redisUrl, { connectTimeoutMs: 2_000 });
  } catch (error) {
    const url = new URL(redisUrl);
    if (!['127.0.0.1', 'localhost'].includes(url.hostname)) throw error;
    try {
      execFileSync('redis-server', [
        '--port',
        url.port || '6379',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'yes',
      ]);
    } catch {
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    return connectRedis(redisUrl, { connectTimeoutMs: 5_000 });
  }
}

/** How long a private redis-server may take to say it is ready (a loaded CI machine starts it slowly). */
const PRIVATE_REDIS_START_MS = 30_000;

/**
 * A throw-away redis-server of this test alone (random port, no persistence),
 * for tests that do what must not be done to the shared one (SCRIPT FLUSH,
 * SHUTDOWN). Waits for the server's own "ready" line, not for a number of
 * connection attempts; a port already taken makes it exit, and another port
 * is tried. `stop()` kills exactly that process.
 */
export async function startPrivateRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const started = await startRedisServer(port);
    if (started !== 'port taken') return started;
    if (attempt >= 5) throw new Error('cannot start redis-server: 5 random ports were all taken');
  }
}

async function startRedisServer(
  port: number,
): Promise<{ url: string; stop: () => Promise<void> } | 'port taken'> {
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  let output = '';
  const ready = new Promise<'ready' | 'port taken'>((resolve, reject) => {
    const timer = setTimeout(() => {
      server.kill();
      reject(
        new Error(`redis-server on port ${port} not ready after ${PRIVATE_REDIS_START_MS} ms: ${output}`),
      );
    }, PRIVATE_REDIS_START_MS);
    const settle = (outcome: 'ready' | 'port taken' | Error) => {
      clearTimeout(timer);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    server.stdout.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2_000);
      if (output.includes('Ready to accept connections')) settle('ready');
    });
    server.stderr.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2_000);
    });
    server.once('error', (error) =>
      settle(
        new Error(
          `cannot start redis-server (${error.message}): install it, e.g. apt-get install redis-server`,
        ),
      ),
    );
    server.once('exit', (code) =>
      settle(
        /address already in use/i.test(output)
          ? 'port taken'
          : new Error(`redis-server on port ${port} exited (${code}) before it was ready: ${output}`),
      ),
    );
  });
  if ((await ready) === 'port taken') return 'port taken';
  // its output is no longer read: keep the pipes from filling
  server.stdout.resume();
  server.stderr.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      server.kill();
      await exited;
    },
  };
}

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

/**
 * A throw-away redis-server of this test alone (random port, no persistence),
 * for tests that do what must not be done to the shared one (SCRIPT FLUSH,
 * SHUTDOWN). `stop()` kills exactly that process.
 */
export async function startPrivateRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  server.once('error', (error) => {
    spawnError = error;
  });
  for (let attempt = 0; ; attempt++) {
    if (spawnError !== undefined) {
      throw new Error(
        `cannot start redis-server (${spawnError.message}): install it, e.g. apt-get install redis-server`,
      );
    }
    try {
      const probe = await connectRedis(url, { connectTimeoutMs: 500 });
      await probe.quit();
      break;
    } catch (error) {
      if (attempt >= 20) {
        server.kill();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    stop: async () => {
      server.kill();
      await exited;
    },
  };
}

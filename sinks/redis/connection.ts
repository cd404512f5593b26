import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError, VeroaiError } from '../../topology/errors.js';

export type { Redis as RedisClient } from 'ioredis';

export interface ConnectRedisOptions {
  /** Connection problems are logged here (warn) instead of being thrown at a caller that is not waiting. */
  readonly logger?: Logger;
  /** How long to wait for the first connection before failing. Default 5 s. */
  readonly connectTimeoutMs?: number;
}

/**
 * Opens a Redis client and waits until it is ready, so a wrong `REDIS_URL`
 * fails at start-up with a message saying what to fix. Later disconnections
 * are retried by the client; commands issued meanwhile fail after a few
 * retries and are counted by the sinks' error metric.
 * @example const redis = await connectRedis(config.REDIS_URL, { logger }); … await redis.quit();
 */
export async function connectRedis(url: string, options: ConnectRedisOptions = {}): Promise<Redis> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      `REDIS_URL: expected redis://[user:password@]host:port[/db], got '${redacted(url)}'`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError(`REDIS_URL: expected a redis:// or rediss:// URL, got '${redacted(url)}'`);
  }
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    maxRetriesPerRequest: 3,
  });
  let lastProblem = '';
  redis.on('error', (error: Error) => {
    // the client reconnects by itself; log each distinct problem once, never the URL's password
    if (error.message === lastProblem) return;
    lastProblem = error.message;
    options.logger?.warn({ redis: redacted(url), err: error.message }, 'redis connection problem');
  });
  redis.on('ready', () => {
    lastProblem = '';
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const reason = error instanceof Error ? error.message : String(error);
    throw new VeroaiError(
      'VEROAI_ERR_REDIS_UNREACHABLE',
      `cannot reach Redis at ${redacted(url)}: ${reason}`,
      {
        hint: 'start Redis or point REDIS_URL at a running instance',
        cause: error,
      },
    );
  }
  return redis;
}

/** The URL without its password, for messages and logs. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/** Deletes every key under a prefix (SCAN + UNLINK: never FLUSHDB, other suites share this Redis). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

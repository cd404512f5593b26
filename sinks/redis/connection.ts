import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError, VeroaiError } from '../../topology/errors.js';
import type { DependencyProbe } from '../readers.js';
import { redisFailure } from './redis-failures.js';

export type { Redis as RedisClient } from 'ioredis';

/**
 * How long a sink's Redis command may take before it counts as failed
 * (`VEROAI_ERR_SINK_UNAVAILABLE`, retried). Far above a pipelined batch's
 * usual few ms, so only a hung or unreachable Redis reaches it.
 */
export const SINK_REDIS_COMMAND_TIMEOUT_MS = 2_000;

/**
 * How long a query API read may take before the request is answered 503:
 * under the 250 ms the API promises for "Redis is down", far above a read's
 * usual millisecond.
 */
export const API_REDIS_COMMAND_TIMEOUT_MS = 200;

export interface ConnectRedisOptions {
  /** Connection problems are logged here (warn) instead of being thrown at a caller that is not waiting. */
  readonly logger?: Logger;
  /** How long to wait for the first connection before failing. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /**
   * How long any command may take before it fails with "Command timed out".
   * Default SINK_REDIS_COMMAND_TIMEOUT_MS; the query API's connection uses
   * API_REDIS_COMMAND_TIMEOUT_MS.
   */
  readonly commandTimeoutMs?: number;
}

/**
 * Opens a Redis client and waits until it is ready, so a wrong `REDIS_URL`
 * fails at start-up with a message saying what to fix. Later disconnections
 * are retried by the client in the background.
 *
 * A command never waits for Redis: while the connection is down it fails at
 * once (no offline queue), and once sent it fails after `commandTimeoutMs`
 * (a hung server). Callers decide what a failure means: the sinks retry
 * their writes with backoff until SINK_MAX_OUTAGE_MS, the query API answers
 * 503. Without this, ioredis queues commands through its reconnects and a
 * failure takes seconds to minutes to surface.
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
  const commandTimeout = options.commandTimeoutMs ?? SINK_REDIS_COMMAND_TIMEOUT_MS;
  if (!Number.isInteger(commandTimeout) || commandTimeout <= 0) {
    throw new ConfigError(
      `Redis command timeout: expected a positive whole number of ms, got ${commandTimeout}`,
    );
  }
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    commandTimeout,
    enableOfflineQueue: false,
    // commands in flight when the connection drops are failed, not resent after a reconnect: their callers retry
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
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

/**
 * Readiness of a Redis connection: ready, and a PING answered within the
 * connection's command timeout. Fails with `VEROAI_ERR_SINK_UNAVAILABLE`
 * saying why, at once while the connection is down.
 * @example buildApiServer({ …, dependencies: [redisProbe(apiRedis)] })
 */
export function redisProbe(redis: Redis, dependency = 'redis'): DependencyProbe {
  return {
    dependency,
    async probe() {
      if (redis.status !== 'ready') {
        throw redisFailure(`${dependency} readiness`, new Error(`connection is ${redis.status}`));
      }
      try {
        await redis.ping();
      } catch (error) {
        throw redisFailure(`${dependency} readiness`, error);
      }
    },
  };
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

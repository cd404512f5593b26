import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { SessionHistorySink } from '../../processors/sessions/session-history-sink.js';
import type { SessionSummary } from '../../schemas/index.js';
import { ConfigError, SinkDataError } from '../../topology/errors.js';
import type { SessionHistoryReader } from '../readers.js';
import { RedisSinkMetrics } from './metrics.js';
import { failedReplies } from './redis-failures.js';

/**
 * Keeps one session per start time, then only the newest `keep`, and renews
 * the TTL. Replacing by start (not by member) makes a rewritten session with
 * different details still a single entry.
 * KEYS[1] sorted set; ARGV: start, summary JSON, keep, TTL ms.
 */
const APPEND_SESSION_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

type SessionAppendClient = Redis & {
  veroaiAppendSession(key: string, start: number, json: string, keep: number, ttlMs: number): Promise<number>;
};

export interface RedisSessionHistoryOptions {
  readonly redis: Redis;
  /** Metrics go here (`veroai_redis_*`). */
  readonly registry: Registry;
  /** First segment of every key, e.g. `veroai` gives `veroai:s:acme/u1`. Default `veroai`. */
  readonly keyPrefix?: string;
  /** Closed sessions kept per user. Default 20. */
  readonly keep?: number;
  /** How long a user's history lives after its last session. Default 7 days. */
  readonly ttlMs?: number;
}

/**
 * The last closed sessions of each user on Redis: a sorted set per
 * `tenantId/userId` at `<prefix>:s:<tenantId>/<userId>`, scored by session
 * start. Appending is one pipelined round trip per batch and idempotent: a
 * replayed session replaces its earlier copy, and the set never holds more
 * than `keep` sessions. Stateless on the Node side.
 *
 * @example
 * const history = new RedisSessionHistory({ redis, registry, keep: 20 });
 * await history.append([summary]);
 * await history.recent('acme', 'u1'); // newest first
 */
export class RedisSessionHistory implements SessionHistorySink, SessionHistoryReader {
  private readonly redis: SessionAppendClient;
  private readonly metrics: RedisSinkMetrics;
  private readonly keyPrefix: string;
  private readonly keep: number;
  private readonly ttlMs: number;

  constructor(options: RedisSessionHistoryOptions) {
    const keep = options.keep ?? 20;
    const ttlMs = options.ttlMs ?? 7 * 24 * 60 * 60 * 1000;
    if (!Number.isInteger(keep) || keep <= 0) {
      throw new ConfigError(`session history: keep must be a positive whole number, got ${keep}`);
    }
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new ConfigError(`session history TTL: expected a positive whole number of ms, got ${ttlMs}`);
    }
    this.keyPrefix = options.keyPrefix ?? 'veroai';
    this.keep = keep;
    this.ttlMs = ttlMs;
    this.metrics = new RedisSinkMetrics(options.registry);
    this.redis = options.redis as SessionAppendClient;
    if (typeof this.redis.veroaiAppendSession !== 'function') {
      this.redis.defineCommand('veroaiAppendSession', { numberOfKeys: 1, lua: APPEND_SESSION_LUA });
    }
  }

  /** The Redis key of one user's history. */
  keyOf(tenantId: string, userId: string): string {
    return `${this.keyPrefix}:s:${tenantId}/${userId}`;
  }

  /**
   * Appends closed sessions in one round trip; resolves once Redis
   * acknowledged them all. A session that cannot be written
   * (`VEROAI_ERR_SESSION_INVALID`, before anything is sent) or that Redis
   * refuses (`VEROAI_ERR_SINK_DATA`, e.g. WRONGTYPE) rejects with its
   * position in the batch (`valueIndex`); `VEROAI_ERR_SINK_UNAVAILABLE` when
   * Redis is down or does not answer in time. Idempotent.
   */
  async append(sessions: readonly SessionSummary[]): Promise<void> {
    if (sessions.length === 0) return;
    const encoded = sessions.map((session, valueIndex) => {
      const who = `session summary for '${session.tenantId}/${session.userId}'`;
      if (!Number.isFinite(session.start) || session.tenantId === '' || session.userId === '') {
        throw new SinkDataError(
          `${who} needs a tenant, a user and a numeric start (got start ${session.start})`,
          {
            code: 'VEROAI_ERR_SESSION_INVALID',
            valueIndex,
            hint: 'the sessions processor must fill tenantId, userId and start from the session window',
          },
        );
      }
      try {
        return JSON.stringify(session);
      } catch (cause) {
        throw new SinkDataError(`${who} cannot be written as JSON: ${(cause as Error).message}`, {
          code: 'VEROAI_ERR_SESSION_INVALID',
          valueIndex,
          cause,
        });
      }
    });
    const pipeline = this.redis.pipeline() as unknown as SessionAppendClient;
    sessions.forEach((session, i) => {
      void pipeline.veroaiAppendSession(
        this.keyOf(session.tenantId, session.userId),
        session.start,
        encoded[i]!,
        this.keep,
        this.ttlMs,
      );
    });
    await this.metrics.observe('session_write', async () => {
      const results = await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec();
      const failure = failedReplies(results, 'session history write', (i) => {
        const session = sessions[i]!;
        return `key '${this.keyOf(session.tenantId, session.userId)}'`;
      });
      if (failure !== undefined) throw failure;
    });
  }

  /** The last `keep` closed sessions of a user, newest first. */
  async recent(tenantId: string, userId: string): Promise<SessionSummary[]> {
    const members = await this.metrics.observe('session_read', () =>
      this.redis.zrevrange(this.keyOf(tenantId, userId), 0, this.keep - 1),
    );
    return members.map((json) => JSON.parse(json) as SessionSummary);
  }
}

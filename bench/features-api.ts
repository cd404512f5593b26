/**
 * The features-api bench: read latency of `GET /v1/features/:view/:entity`
 * over HTTP at a steady request rate, next to raw HGETALL reads of the same
 * hashes straight from Redis with ioredis in the same run (the client's
 * limit). The API server runs in this process; the load comes from a worker
 * process, open-loop, with undici. Last, the same load against a bare
 * node:http server answering a fixed body gives the floor HTTP itself puts
 * under the API on this machine (`bare_http_*`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildApiServer } from '../api/server.js';
import type { FeatureUpdate } from '../schemas/index.js';
import {
  connectRedis,
  deleteKeysWithPrefix,
  RedisFeatureStore,
  RedisSessionHistory,
} from '../sinks/index.js';
import { MemoryTransport, Serdes, StreamsApplication, TopologyBuilder } from '../topology/index.js';
import { runInChild } from './child-process.js';
import type { PacedLoadJob, PacedLoadResult } from './paced-load.js';
import { percentile } from './percentile.js';
import { RssSampler } from './rss-sampler.js';
import { log } from './stateless.js';

export interface FeaturesApiOptions {
  readonly entities: number;
  readonly rate: number;
  readonly seconds: number;
  readonly redisUrl: string;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

const load = (job: PacedLoadJob) =>
  runInChild<PacedLoadJob, PacedLoadResult>(new URL('./paced-load.ts', import.meta.url), job);

/**
 * The floor under the API's figures: a node:http server in this process that
 * answers every request with one fixed feature body, no routing, no Redis,
 * loaded by the same client at the same rate.
 */
async function bareHttpLoad(common: Pick<PacedLoadJob, 'ratePerSecond' | 'durationMs'>) {
  const body = JSON.stringify({
    view: 'user_activity',
    entity: 'tenant-1/user-1',
    values: { events_1h: 1, errors_1h: 0, error_rate_1h: 0, last_seen: 1 },
    event_time: 1,
    age_ms: 1,
  });
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await load({ ...common, kind: 'http', target: `http://127.0.0.1:${port}`, items: ['/features'] });
  } finally {
    server.close();
  }
}

export async function benchFeaturesApi(options: FeaturesApiOptions) {
  const rss = new RssSampler();
  const keyPrefix = `veroai-bench-${process.pid}`;
  const registry = new Registry();
  const redis = await connectRedis(options.redisUrl);
  const store = new RedisFeatureStore({ redis, registry, keyPrefix, ttlMs: 3_600_000 });
  const entities = Array.from({ length: options.entities }, (_, i) => `tenant-${i % 10}/user-${i}`);
  log(`writing ${entities.length} user_activity hashes under ${keyPrefix}:*`);
  const now = Date.now();
  for (let i = 0; i < entities.length; i += 1_000) {
    await store.write(
      entities.slice(i, i + 1_000).map(
        (entity, j): FeatureUpdate => ({
          view: 'user_activity',
          entity,
          tenantId: entity.slice(0, entity.indexOf('/')),
          values: { events_1h: i + j, errors_1h: j % 7, error_rate_1h: (j % 7) / 100, last_seen: now },
          eventTime: now,
        }),
      ),
    );
  }
  // the API over the same store, with an admin key; no stream processing runs in this bench
  const builder = new TopologyBuilder();
  builder.stream('bench-unused', { key: Serdes.string, value: Serdes.string }).to('bench-unused-out');
  const app = new StreamsApplication(builder.build(), {
    applicationId: 'bench-features-api',
    transport: new MemoryTransport(),
    metricsRegistry: registry,
  });
  const apiKey = `bench-${process.pid}`;
  const api = await buildApiServer({
    registry,
    app,
    logger: pino({ level: 'warn' }),
    features: store,
    sessionHistory: new RedisSessionHistory({ redis, registry, keyPrefix }),
    apiKeys: new Map([[apiKey, '*']]),
  });
  const address = await api.listen({ host: '127.0.0.1', port: 0 });
  const common = { ratePerSecond: options.rate, durationMs: options.seconds * 1000 };
  // alternate, raw first: both see the same Redis and the same machine
  log(`raw ioredis HGETALL at ${options.rate}/s for ${options.seconds} s`);
  const raw = await load({
    ...common,
    kind: 'redis',
    target: options.redisUrl,
    items: entities.map((e) => store.keyOf('user_activity', e)),
  });
  log(`GET /v1/features at ${options.rate}/s for ${options.seconds} s`);
  const http = await load({
    ...common,
    kind: 'http',
    target: address,
    items: entities.map((e) => `/v1/features/user_activity/${encodeURIComponent(e)}`),
    headers: { authorization: `Bearer ${apiKey}` },
  });
  await api.close();
  log(`a bare node:http server answering one fixed body at ${options.rate}/s for ${options.seconds} s`);
  const floor = await bareHttpLoad(common);
  await deleteKeysWithPrefix(redis, keyPrefix);
  await redis.quit();
  const apiP99 = percentile(http.latenciesMs, 99);
  const rawP99 = percentile(raw.latenciesMs, 99);
  return {
    bench: 'features-api',
    entities: options.entities,
    rate_rps: options.rate,
    requests: http.requests,
    errors: http.errors + raw.errors,
    api_rps: http.achievedRatePerSecond,
    api_p50_ms: round(percentile(http.latenciesMs, 50)),
    api_p90_ms: round(percentile(http.latenciesMs, 90)),
    api_p99_ms: round(apiP99),
    api_p999_ms: round(percentile(http.latenciesMs, 99.9)),
    raw_redis_p50_ms: round(percentile(raw.latenciesMs, 50)),
    raw_redis_p99_ms: round(rawP99),
    p99_ratio_to_raw: Math.round((apiP99 / rawP99) * 100) / 100,
    bare_http_p50_ms: round(percentile(floor.latenciesMs, 50)),
    bare_http_p99_ms: round(percentile(floor.latenciesMs, 99)),
    rss_mb: rss.stop(),
  };
}

/**
 * The first pipeline end to end on the real broker and the real Redis:
 * telemetry in → the expected session on `user_sessions`, the expected
 * feature values in Redis and over the query API; a replay of the same input
 * by a fresh application leaves the features unchanged (event-time guard).
 */
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../api/server.js';
import { ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { firstPipelineTopology } from '../../processors/first-pipeline.js';
import { openSessionOf } from '../../processors/sessions/open-session.js';
import type { SessionSummary } from '../../schemas/index.js';
import {
  EMPTY_PAYLOAD,
  featureUpdateSerde,
  type TelemetryEvent,
  type TelemetryEventType,
  type TelemetryPayload,
  telemetryEventSerde,
  userSessionSerde,
} from '../../schemas/index.js';
import { type RedisClient, RedisFeatureStore, RedisSessionHistory } from '../../sinks/index.js';
import { StreamsApplication } from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { produce, readTopic } from '../support/kafka-io.js';
import { connectTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from '../support/redis.js';
import { until } from '../support/until.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
/** How long the pipeline may take to reach a state the test waits for (a loaded CI machine). */
const PIPELINE_WAIT_MS = 90_000;
// two hours ago, on a minute boundary: valid event times, and rolling buckets are easy to reason about
const T0 = Math.floor((Date.now() - 2 * 60 * MINUTE) / MINUTE) * MINUTE;
const tenant = uniqueName('it').replace(/-/g, '');
// raw events of this run only: other suites write events of other times to the shared raw_events
// concurrently, which would move this run's stream time and close the session it expects open
const rawEvents = uniqueName('it-raw-events');
const other = `${tenant}x`;

let brokers: string[];
let redis: RedisClient;
const keyPrefix = uniqueKeyPrefix('first-pipeline');
const telemetry = telemetryEventSerde();
const sessions = userSessionSerde();
const started: Array<{ app: StreamsApplication; transport: KafkaTransport }> = [];

function event(
  tenantId: string,
  userId: string,
  eventType: TelemetryEventType,
  timestamp: number,
  payload: Partial<TelemetryPayload>,
): TelemetryEvent {
  return {
    eventId: `${tenantId}-${userId}-${timestamp}-${eventType}`,
    timestamp,
    tenantId,
    userId,
    eventType,
    payload: { ...EMPTY_PAYLOAD, ...payload },
    metadata: { source: 'integration-test', version: '1' },
    deployment: null,
    clientIp: null,
    userAgent: null,
  };
}

/** One user's morning: a 30-second session, then a return 40 minutes later that closes it. */
const EVENTS: TelemetryEvent[] = [
  event(tenant, 'u1', 'pageview', T0, { page: '/home' }),
  event(tenant, 'u1', 'api_call', T0 + 10 * SECOND, {
    method: 'GET',
    path: '/v1/orders',
    latencyMs: 20,
    statusCode: 200,
  }),
  event(tenant, 'u1', 'api_call', T0 + 20 * SECOND, {
    method: 'GET',
    path: '/v1/orders',
    latencyMs: 100,
    statusCode: 503,
  }),
  event(tenant, 'u1', 'click', T0 + 30 * SECOND, { page: '/home', element: 'button.save' }),
  event(tenant, 'u1', 'pageview', T0 + 40 * MINUTE, { page: '/orders' }),
  // another tenant's user, whose data a key for `tenant` must never see
  event(other, 'v1', 'pageview', T0 + 5 * SECOND, { page: '/home' }),
];

const EXPECTED_SESSION: SessionSummary = {
  tenantId: tenant,
  userId: 'u1',
  start: T0,
  end: T0 + 30 * SECOND,
  durationMs: 30 * SECOND,
  eventCount: 4,
  countsByType: { pageview: 1, api_call: 1, api_error: 1, click: 1 },
  errorCount: 1,
  distinctPages: 1,
  lastPath: '/home',
};

/** Starts the pipeline as a new application reading this run's raw events from the offsets given. */
async function startPipeline(applicationId: string, from: Array<{ partition: number; offset: string }>) {
  const registry = new Registry();
  const features = new RedisFeatureStore({ redis, registry, keyPrefix });
  const sessionHistory = new RedisSessionHistory({ redis, registry, keyPrefix });
  const { topology, externalTopics } = firstPipelineTopology({
    serdes: { telemetry, session: sessions, feature: featureUpdateSerde() },
    sinks: { features, sessionHistory },
    rawEventsTopic: rawEvents,
  });
  const logger = pino({ level: 'warn' });
  const transport = new KafkaTransport({ brokers, clientId: applicationId, logger });
  await transport.ensureTopics(externalTopics);
  const admin = new Kafka({ clientId: 'it', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.setOffsets({ groupId: applicationId, topic: rawEvents, partitions: from });
  await admin.disconnect();
  const app = new StreamsApplication(topology, {
    applicationId,
    transport,
    logger,
    metricsRegistry: registry,
  });
  await app.start();
  started.push({ app, transport });
  return { app, registry, features, sessionHistory };
}

async function consumedInput(registry: Registry): Promise<number> {
  const values = (await registry.getSingleMetric('veroai_records_consumed_total')?.get())?.values ?? [];
  return values.filter((v) => v.labels.topic === rawEvents).reduce((sum, v) => sum + v.value, 0);
}

let start: Array<{ partition: number; offset: string }>;

beforeAll(async () => {
  brokers = await ensureKafka();
  redis = await connectTestRedis();
  const transport = new KafkaTransport({ brokers, clientId: 'it-setup', logger: pino({ level: 'warn' }) });
  try {
    const { externalTopics } = firstPipelineTopology({
      rawEventsTopic: rawEvents,
      serdes: { telemetry, session: sessions, feature: featureUpdateSerde() },
      sinks: {
        features: { write: async () => undefined },
        sessionHistory: { append: async () => undefined },
      },
    });
    await transport.ensureTopics(externalTopics);
    // the output topics are shared with other runs: outputs are told apart by this run's tenant
    // (endOffsets retries while a topic created a moment ago elects its leaders)
    start = (await transport.endOffsets(rawEvents)).map((offset, partition) => ({
      partition,
      offset: String(offset),
    }));
  } finally {
    await transport.close();
  }
  await telemetry.prepare?.(rawEvents);
  await produce(
    brokers,
    rawEvents,
    EVENTS.map((e) => ({
      key: `${e.tenantId}/${e.userId}`,
      value: telemetry.serialize(e, rawEvents),
      timestamp: e.timestamp,
    })),
  );
});

afterAll(async () => {
  for (const { app, transport } of started) {
    await app.stop();
    await transport.close();
  }
  await deleteKeysWithPrefix(redis, keyPrefix);
  await redis.quit();
});

describe('the first pipeline on Kafka and Redis', () => {
  it('turns the morning into the expected session, features in Redis and answers over the API, tenant by tenant', async () => {
    const { app, registry, features, sessionHistory } = await startPipeline(uniqueName('it-pipeline'), start);
    await until(
      async () => (await consumedInput(registry)) >= EVENTS.length,
      'the input to be consumed',
      PIPELINE_WAIT_MS,
      200,
    );

    // the closed session on user_sessions (read from where this run's records start)
    const closed = (
      await readTopic(brokers, 'user_sessions', { atLeast: 0, timeoutMs: 60_000, quietMs: 2_000 })
    ).filter((r) => r.key === `${tenant}/u1`);
    await until(
      async () => (await sessionHistory.recent(tenant, 'u1')).length > 0,
      'the session history',
      PIPELINE_WAIT_MS,
      200,
    );
    expect(closed).toHaveLength(1);
    expect(await sessions.deserialize(closed[0]!.value, 'user_sessions')).toEqual(EXPECTED_SESSION);
    expect(await sessionHistory.recent(tenant, 'u1')).toEqual([EXPECTED_SESSION]);

    // features as of the last event, in Redis
    await until(
      async () => (await features.get('user_activity', `${tenant}/u1`))?.eventTime === T0 + 40 * MINUTE,
      'user_activity as of the last event',
      PIPELINE_WAIT_MS,
      200,
    );
    const activity = await features.get('user_activity', `${tenant}/u1`);
    expect(activity?.values).toMatchObject({
      events_1h: 5,
      errors_1h: 1,
      error_rate_1h: 0.2,
      sessions_24h: 1,
      avg_session_duration_24h: 30 * SECOND,
      last_seen: T0 + 40 * MINUTE,
    });
    const usage = await features.get('tenant_usage', tenant);
    expect(usage?.values).toMatchObject({ events_1h: 5, active_users_1h: 1 });
    const orders = await features.get('endpoint_health', `${tenant}/GET /v1/orders`);
    expect(orders?.values).toMatchObject({ requests_5m: 2, error_rate_5m: 0.5 });
    // DDSketch, 1% relative accuracy; with two calls (20 ms, 100 ms) the median is the first
    expect(orders?.values.latency_p50_ms).toBeGreaterThan(19.8);
    expect(orders?.values.latency_p50_ms).toBeLessThan(20.2);

    // the query API over the same store and the running application
    const api = await buildApiServer({
      registry,
      app,
      logger: pino({ level: 'warn' }),
      features,
      sessionHistory,
      openSession: openSessionOf(app),
      apiKeys: new Map([
        ['key-tenant', tenant],
        ['key-other', other],
      ]),
    });
    try {
      const get = (url: string, key: string) =>
        api.inject({ url, headers: { authorization: `Bearer ${key}` } });
      const entity = encodeURIComponent(`${tenant}/u1`);
      const own = await get(`/v1/features/user_activity/${entity}`, 'key-tenant');
      expect(own.statusCode).toBe(200);
      expect(own.json()).toMatchObject({ values: { events_1h: 5 }, event_time: T0 + 40 * MINUTE });
      expect((await get(`/v1/features/user_activity/${entity}`, 'key-other')).statusCode).toBe(404);
      const mine = await get(`/v1/sessions/${tenant}/u1`, 'key-tenant');
      expect(mine.statusCode).toBe(200);
      expect(mine.json()).toMatchObject({
        open: { start: T0 + 40 * MINUTE, eventCount: 1, lastPath: '/orders' },
        closed: [EXPECTED_SESSION],
      });
      expect((await get(`/v1/sessions/${tenant}/u1`, 'key-other')).statusCode).toBe(404);
      expect((await get(`/v1/features/no_such_view/${entity}`, 'key-tenant')).statusCode).toBe(400);
    } finally {
      await api.close();
    }
  }, 180_000);

  it('a replay of the same input by a fresh application leaves every feature as it was', async () => {
    const registry0 = new Registry();
    const store = new RedisFeatureStore({ redis, registry: registry0, keyPrefix });
    const entities = [
      ['user_activity', `${tenant}/u1`],
      ['tenant_usage', tenant],
      ['endpoint_health', `${tenant}/GET /v1/orders`],
    ] as const;
    const before = await Promise.all(entities.map(([view, entity]) => store.get(view, entity)));
    expect(before.every((f) => f !== null)).toBe(true);
    const replay = await startPipeline(uniqueName('it-replay'), start);
    await until(
      async () => (await consumedInput(replay.registry)) >= EVENTS.length,
      'the replay to be consumed',
      PIPELINE_WAIT_MS,
      200,
    );
    // the replay recomputed and sent every view again (written with an equal event time, or refused as older)
    await until(
      async () => {
        const counted = async (name: string) =>
          ((await replay.registry.getSingleMetric(name)?.get())?.values ?? []).reduce(
            (sum, v) => sum + v.value,
            0,
          );
        return (
          (await counted('veroai_features_written_total')) +
            (await counted('veroai_features_stale_skipped_total')) >=
          3
        );
      },
      'the replay to write its features',
      PIPELINE_WAIT_MS,
      200,
    );
    const after = await Promise.all(entities.map(([view, entity]) => store.get(view, entity)));
    expect(after.map((f) => [f?.values, f?.eventTime])).toEqual(before.map((f) => [f?.values, f?.eventTime]));
  }, 180_000);
});

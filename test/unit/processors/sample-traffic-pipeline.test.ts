import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SampleTraffic } from '../../../cli/sample-traffic.js';
import { firstPipelineTopology } from '../../../processors/first-pipeline.js';
import type { FeatureUpdate, SessionSummary } from '../../../schemas/index.js';
import {
  featureUpdateSerde,
  type TelemetryEvent,
  telemetryEventSerde,
  userSessionSerde,
} from '../../../schemas/index.js';
import { MemoryFeatureSink, MemorySessionHistorySink } from '../../../sinks/memory/memory-sinks.js';
import { partitionForKey, type StoreType } from '../../../topology/index.js';
import { RocksDbDatabase } from '../../../topology/state/rocksdb-database.js';
import { TestDriver } from '../../../topology/testing/index.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const MINUTE = 60_000;
const GAP = 30 * MINUTE;

/** Independent reference: what a view's window holds as of `asOf` (one-minute buckets, the last 60). */
const inLastHour = (timestamp: number, asOf: number) =>
  Math.floor(timestamp / MINUTE) > Math.floor(asOf / MINUTE) - 60;

let stateDir: string | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
  stateDir = undefined;
});

/** The first pipeline in a TestDriver (3 partitions), its stores on `store`, with in-memory sinks. */
async function firstPipelineOn(store: StoreType) {
  const features = new MemoryFeatureSink();
  const history = new MemorySessionHistorySink();
  const telemetry = telemetryEventSerde();
  const { topology, externalTopics } = firstPipelineTopology({
    serdes: { telemetry, session: userSessionSerde(), feature: featureUpdateSerde() },
    sinks: { features, sessionHistory: history },
  });
  expect(externalTopics).toEqual([
    { name: 'raw_events', partitions: 3 },
    { name: 'user_sessions', partitions: 3 },
    { name: 'feature_updates', partitions: 3 },
  ]);
  if (store === 'rocksdb') stateDir = await mkdtemp(join(tmpdir(), 'veroai-first-pipeline-'));
  const driver = await TestDriver.create(topology, {
    startTime: T0,
    defaultPartitions: 3,
    defaultStoreType: store,
    ...(stateDir === undefined ? {} : { stateDir }),
  });
  /** Appends the events in one go and processes them (batches of up to 1,000 records per partition). */
  const pipe = async (traffic: SampleTraffic, events: readonly TelemetryEvent[]) => {
    await telemetry.prepare?.('raw_events');
    for (const e of events.slice(0, -1)) {
      const key = Buffer.from(traffic.key(e));
      driver.transport.log.append({
        topic: 'raw_events',
        partition: partitionForKey(key, 3, () => 0),
        key,
        value: telemetry.serialize(e, 'raw_events'),
        timestamp: e.timestamp,
      });
    }
    const last = events[events.length - 1]!;
    await driver.pipeInput('raw_events', traffic.key(last), last, last.timestamp);
  };
  return { driver, features, history, pipe };
}

describe.each<StoreType>(['memory', 'rocksdb'])(
  'the first pipeline on %s stores with the demo traffic',
  (store) => {
    it('agrees with a brute-force count of the input, and its sessions are final', async () => {
      const { driver, features, history, pipe } = await firstPipelineOn(store);
      try {
        const traffic = new SampleTraffic({
          seed: 7,
          startTime: T0,
          // 4000 events over 133 minutes of event time: users come back after their gaps, sessions close
          eventsPerSecond: 0.5,
          tenants: 3,
          usersPerTenant: 8,
          anonymousRate: 0.1,
          duplicateRate: 0.05,
        });
        const events = traffic.take(4_000);
        // the reference counts each event id once
        const unique = [...new Map(events.map((e) => [e.eventId, e])).values()];
        expect(unique.length).toBeLessThan(events.length);
        await pipe(traffic, events);

        expect(driver.readDeadLetters()).toEqual([]);
        const byTenant = new Map<string, TelemetryEvent[]>();
        for (const e of unique) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
        for (const [tenant, tenantEvents] of byTenant) {
          const usage = features.latest('tenant_usage', tenant)!;
          const recent = tenantEvents.filter((e) => inLastHour(e.timestamp, usage.eventTime));
          expect(usage.eventTime).toBe(Math.max(...tenantEvents.map((e) => e.timestamp)));
          expect(usage.values).toEqual({
            events_1h: recent.length,
            active_users_1h: new Set(recent.filter((e) => e.userId !== null).map((e) => e.userId)).size,
          });
        }
        for (const e of unique.slice(-50).filter((x) => x.userId !== null)) {
          const user = features.latest('user_activity', `${e.tenantId}/${e.userId}`)!;
          const mine = unique.filter((x) => x.tenantId === e.tenantId && x.userId === e.userId);
          expect(user.values.events_1h).toBe(
            mine.filter((x) => inLastHour(x.timestamp, user.eventTime)).length,
          );
        }
        const endpoints = [
          ...new Set(
            events
              .filter((e) => e.payload.method)
              .map((e) => `${e.tenantId}/${e.payload.method} ${e.payload.path}`),
          ),
        ];
        expect(endpoints.every((entity) => features.latest('endpoint_health', entity) !== undefined)).toBe(
          true,
        );

        const sessions = driver.readOutput<string, SessionSummary>('user_sessions').map((r) => r.value);
        expect(sessions.length).toBeGreaterThan(20);
        // the same sessions, in task order rather than partition order
        const canonical = (list: SessionSummary[]) => list.map((x) => JSON.stringify({ ...x })).sort();
        expect(canonical(history.appends.flat())).toEqual(canonical(sessions));
        const previousEnd = new Map<string, number>();
        for (const s of [...sessions].sort((a, b) => a.start - b.start)) {
          const user = `${s.tenantId}/${s.userId}`;
          expect(Object.values(s.countsByType).reduce((a, b) => a + b, 0)).toBe(s.eventCount);
          expect(s.durationMs).toBe(s.end - s.start);
          // a closed session is final: the next one of the user starts more than a gap later
          if (previousEnd.has(user)) expect(s.start - previousEnd.get(user)!).toBeGreaterThan(GAP);
          previousEnd.set(user, s.end);
        }
        const updates = driver.readOutput<string, FeatureUpdate>('feature_updates');
        expect(new Set(updates.map((u) => u.value.view))).toEqual(
          new Set(['user_activity', 'endpoint_health', 'tenant_usage']),
        );
      } finally {
        await driver.close();
      }
    });
  },
);

describe('the first pipeline on RocksDB stores', () => {
  it('reads a batch’s state ahead, a multi-get per store, not a disk read per record', async () => {
    const reads = vi.spyOn(RocksDbDatabase.prototype, 'getMany');
    const { driver, features, pipe } = await firstPipelineOn('rocksdb');
    try {
      const traffic = new SampleTraffic({
        seed: 11,
        startTime: T0,
        // 6000 events within 30 s of event time: no expiry sweep, no session closes, in the middle of a batch
        eventsPerSecond: 200,
        tenants: 4,
        usersPerTenant: 50,
        anonymousRate: 0.1,
        duplicateRate: 0.05,
      });
      const events = traffic.take(6_000);
      await pipe(traffic, events);
      expect(driver.readDeadLetters()).toEqual([]);
      const tenants = new Set(events.map((e) => e.tenantId));
      expect([...tenants].every((t) => features.latest('tenant_usage', t) !== undefined)).toBe(true);
      // every stateful step (de-duplication, sessions, three feature views) reads each record's state:
      // a read per record would be tens of thousands of reads; ahead, it is one per store and batch
      // (1,000 records at most): about 60 in all
      expect(reads.mock.calls.length).toBeLessThan(events.length / 20);
      const keysRead = reads.mock.calls.reduce((sum, [keys]) => sum + keys.length, 0);
      expect(keysRead).toBeGreaterThan(events.length);
    } finally {
      await driver.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
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
import { partitionForKey } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const MINUTE = 60_000;
const GAP = 30 * MINUTE;

/** Independent reference: what a view's window holds as of `asOf` (one-minute buckets, the last 60). */
const inLastHour = (timestamp: number, asOf: number) =>
  Math.floor(timestamp / MINUTE) > Math.floor(asOf / MINUTE) - 60;

describe('the first pipeline on 3 partitions with the demo traffic', () => {
  it('agrees with a brute-force count of the input, and its sessions are final', async () => {
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
    const driver = await TestDriver.create(topology, { startTime: T0, defaultPartitions: 3 });
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
      await telemetry.prepare?.('raw_events');
      // appended in one go, processed when the last one is piped
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
});

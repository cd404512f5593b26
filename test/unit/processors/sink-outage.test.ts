import { afterEach, describe, expect, it } from 'vitest';
import { firstPipelineTopology } from '../../../processors/first-pipeline.js';
import type { SinkFailure } from '../../../processors/write-batch-to-sink.js';
import { featureUpdateSerde, telemetryEventSerde, userSessionSerde } from '../../../schemas/index.js';
import { MemoryFeatureSink, MemorySessionHistorySink } from '../../../sinks/memory/memory-sinks.js';
import { TestDriver } from '../../../topology/testing/index.js';
import { click } from '../../support/telemetry-events.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

describe('a sink outage', () => {
  it('is retried with backoff and reported; nothing is dead-lettered and nothing is lost', async () => {
    const features = new MemoryFeatureSink();
    const history = new MemorySessionHistorySink();
    const failures: SinkFailure[] = [];
    const { topology } = firstPipelineTopology({
      serdes: {
        telemetry: telemetryEventSerde(),
        session: userSessionSerde(),
        feature: featureUpdateSerde(),
      },
      sinks: { features, sessionHistory: history },
      sinkRetry: {
        initialBackoffMs: 1,
        maxBackoffMs: 4,
        maxOutageMs: 60_000,
        onFailure: (failure) => failures.push(failure),
      },
    });
    driver = await TestDriver.create(topology, { startTime: T0 });
    features.failNextWrites = 4;
    await driver.pipeInput('raw_events', 'acme/alice', click('e1', T0), T0);

    // a blip, not an outage: well inside maxOutageMs (its expiry is tested on a real Redis in redis-outage.test.ts)
    expect(failures.map((f) => [f.sink, f.attempt, f.retryInMs, f.exhausted])).toEqual([
      ['feature-store', 1, 1, false],
      ['feature-store', 2, 2, false],
      ['feature-store', 3, 4, false],
      ['feature-store', 4, 4, false],
    ]);
    expect(failures[0]!.outageMs).toBe(0);
    expect(failures[3]!.outageMs).toBeGreaterThanOrEqual(failures[1]!.outageMs);
    expect(String((failures[0]!.error as Error).message)).toMatch(/simulated outage/);
    expect(driver.readDeadLetters()).toEqual([]);
    // both views the event touched got through once the sink was back
    expect(features.latest('user_activity', 'acme/alice')?.values.events_1h).toBe(1);
    expect(features.latest('tenant_usage', 'acme')?.values.events_1h).toBe(1);
    expect(driver.readOutput('feature_updates')).toHaveLength(2);
  });
});

describe('a sink write aborted by a stop', () => {
  it('fails the batch uncommitted (not the records: nothing is dead-lettered) instead of hanging the stop', async () => {
    const features = new MemoryFeatureSink();
    const stopping = new AbortController();
    const { topology } = firstPipelineTopology({
      serdes: {
        telemetry: telemetryEventSerde(),
        session: userSessionSerde(),
        feature: featureUpdateSerde(),
      },
      sinks: { features, sessionHistory: new MemorySessionHistorySink() },
      sinkRetry: {
        initialBackoffMs: 60_000,
        maxOutageMs: 600_000,
        signal: stopping.signal,
        // the first failure starts a minute's backoff: the stop aborts it
        onFailure: () => stopping.abort(),
      },
    });
    driver = await TestDriver.create(topology, { startTime: T0 });
    features.failNextWrites = 1_000;
    const failed = new Promise<unknown>((resolve) => driver!.app.once('error', resolve));
    await driver.pipeInput('raw_events', 'acme/alice', click('e1', T0), T0).catch(() => undefined);
    expect(String(await failed)).toMatch(/abandoned|abort/i);
    expect(driver.app.state).toBe('failed');
    expect(driver.readDeadLetters()).toEqual([]);
  });
});

/**
 * The main job's topology takes its event-time bound from the configuration
 * (MAX_EVENT_TIME_AHEAD_MS), not only from the processors' default.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { defaultTopology } from '../../../cli/default-topology.js';
import { MemoryFeatureSink, MemorySessionHistorySink } from '../../../sinks/memory/memory-sinks.js';
import { TestDriver } from '../../../topology/testing/index.js';
import { click } from '../../support/telemetry-events.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

async function deadLettersFor(maxAheadMs: number): Promise<string[]> {
  const { topology } = defaultTopology(
    { SCHEMA_REGISTRY_URL: undefined, MAX_EVENT_TIME_AHEAD_MS: maxAheadMs },
    { sinks: { features: new MemoryFeatureSink(), sessionHistory: new MemorySessionHistorySink() } },
  );
  driver = await TestDriver.create(topology, { startTime: T0 });
  // event time 2 s ahead of the record's log timestamp
  await driver.pipeInput('raw_events', 'acme/alice', click('e1', T0 + 2_000), T0);
  const reasons = driver.readDeadLetters().map((r) => String(r.headers['veroai.error.message']));
  await driver.close();
  driver = undefined;
  return reasons;
}

describe('the default topology', () => {
  it('dead-letters an event further ahead of its log timestamp than MAX_EVENT_TIME_AHEAD_MS', async () => {
    expect(await deadLettersFor(300_000)).toEqual([]);
    const reasons = await deadLettersFor(1_000);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/ahead of its log timestamp/);
  });
});

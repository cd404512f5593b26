/**
 * The first pipeline's by-user repartition is in place and shares values
 * (RepartitionOptions.shareValues): an event kept in its task goes on as the
 * object normalisation made, one that crosses as the telemetry serde reads
 * it back. Sharing is exact only if the two are the same data; this checks
 * it on sample traffic and on events built to need normalising.
 */
import { describe, expect, it } from 'vitest';
import { SampleTraffic } from '../../../cli/sample-traffic.js';
import { normalizeTelemetryEvent } from '../../../processors/telemetry/normalize.js';
import { DEFAULT_VALIDATION_LIMITS, validateTelemetryEvent } from '../../../processors/telemetry/validate.js';
import { type TelemetryEvent, telemetryEventSerde } from '../../../schemas/index.js';
import { telemetryEvent } from '../../support/telemetry-events.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const TOPIC = 'veroai-events-by-user-repartition';

/** What the pipeline forwards to the repartition; undefined for an event validation rejects. */
function clean(event: TelemetryEvent): TelemetryEvent | undefined {
  try {
    return normalizeTelemetryEvent(validateTelemetryEvent(event, event.timestamp, DEFAULT_VALIDATION_LIMITS));
  } catch {
    return undefined;
  }
}

describe('clean telemetry values', () => {
  it('are what the telemetry serde reads back from their bytes: sharing them in place is exact', async () => {
    const serde = telemetryEventSerde();
    await serde.prepare?.(TOPIC);
    const built = [
      telemetryEvent(' Acme ', ' alice ', 'api_call', T0, {
        method: 'get',
        path: '//v1//orders/?x=1#top',
        statusCode: 503,
        latencyMs: 20,
      }),
      telemetryEvent('acme', '', 'pageview', T0, { page: '/home/' }),
      telemetryEvent('globex', null, 'error', T0, { page: '/', errorMessage: 'boom' }),
      {
        ...telemetryEvent('acme', 'bob', 'click', T0, { element: ' button.save ' }),
        clientIp: '::ffff:10.0.0.1',
      },
    ];
    const events = [...built, ...new SampleTraffic({ seed: 3 }).take(20_000)];
    let checked = 0;
    for (const event of events) {
      const value = clean(event);
      if (value === undefined) continue;
      const bytes = await serde.serialize(value, TOPIC);
      // toEqual tells null from a missing or undefined field: the difference a `=== null` test would see
      expect(await serde.deserialize(bytes, TOPIC)).toEqual(value);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(19_000);
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../cli/config.js';
import { DEFAULT_VALIDATION_LIMITS } from '../../../processors/telemetry/validate.js';
import { ConfigError } from '../../../topology/index.js';

describe('MAX_EVENT_TIME_AHEAD_MS', () => {
  it('defaults to the validation default, 5 minutes, and takes whole milliseconds', () => {
    expect(loadConfig({}).MAX_EVENT_TIME_AHEAD_MS).toBe(300_000);
    expect(DEFAULT_VALIDATION_LIMITS.maxAheadMs).toBe(300_000);
    expect(loadConfig({ MAX_EVENT_TIME_AHEAD_MS: '60000' }).MAX_EVENT_TIME_AHEAD_MS).toBe(60_000);
    expect(loadConfig({ MAX_EVENT_TIME_AHEAD_MS: '0' }).MAX_EVENT_TIME_AHEAD_MS).toBe(0);
  });

  it.each([
    ['5m', /MAX_EVENT_TIME_AHEAD_MS: expected a whole number of milliseconds, e\.g\. 300000 \(got '5m'\)/],
    ['1.5', /MAX_EVENT_TIME_AHEAD_MS: expected a whole number of milliseconds, e\.g\. 300000 \(got '1\.5'\)/],
    ['-1', /MAX_EVENT_TIME_AHEAD_MS: expected 0 or more \(milliseconds\) \(got '-1'\)/],
  ])('rejects %j, naming the variable and the expected form', (value, message) => {
    expect(() => loadConfig({ MAX_EVENT_TIME_AHEAD_MS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ MAX_EVENT_TIME_AHEAD_MS: value })).toThrow(message);
  });
});

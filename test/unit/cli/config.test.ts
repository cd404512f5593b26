import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../cli/config.js';
import { ConfigError } from '../../../topology/index.js';

describe('configuration from the environment', () => {
  it('has working defaults for the embedded run', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      APPLICATION_ID: 'veroai',
      TRANSPORT: 'memory',
      PROCESSING_GUARANTEE: 'at_least_once',
      API_PORT: 8080,
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
  });

  it('parses broker lists and numbers', () => {
    const config = loadConfig({
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: '127.0.0.1:9092, kafka-2:19092',
      COMMIT_INTERVAL_MS: '250',
    });
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092', 'kafka-2:19092']);
    expect(config.COMMIT_INTERVAL_MS).toBe(250);
  });

  it('names every bad variable, its expected form and the value it got', () => {
    let error: unknown;
    try {
      loadConfig({
        TRANSPORT: 'kafka',
        KAFKA_BROKERS: 'not a broker',
        API_PORT: '70000',
        PROCESSING_GUARANTEE: 'maybe',
        APPLICATION_ID: 'has space',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(
      /KAFKA_BROKERS: expected a comma-separated list of host:port.*got 'not a broker'/,
    );
    expect(message).toMatch(/API_PORT: .*got '70000'/);
    expect(message).toMatch(/PROCESSING_GUARANTEE: .*at_least_once.*got 'maybe'/);
    expect(message).toMatch(/APPLICATION_ID: expected letters, digits/);
  });

  it('BROKER_MAX_OUTAGE_MS: 120 s by default, a positive whole number of milliseconds otherwise', () => {
    expect(loadConfig({}).BROKER_MAX_OUTAGE_MS).toBe(120_000);
    expect(loadConfig({ BROKER_MAX_OUTAGE_MS: '30000' }).BROKER_MAX_OUTAGE_MS).toBe(30_000);
    for (const bad of ['0', '-5', '1.5', 'two minutes'])
      expect(() => loadConfig({ BROKER_MAX_OUTAGE_MS: bad })).toThrow(
        new RegExp(`BROKER_MAX_OUTAGE_MS: expected a positive whole number of milliseconds.*got '${bad}'`),
      );
  });

  it('requires brokers for the kafka transport', () => {
    expect(() => loadConfig({ TRANSPORT: 'kafka' })).toThrow(
      /KAFKA_BROKERS: required when TRANSPORT=kafka.*not set/,
    );
  });
});

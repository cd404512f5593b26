import { Counter, Histogram, type Registry } from 'prom-client';
import { FEATURE_VIEWS } from '../../schemas/index.js';
import { redisFailure } from './redis-failures.js';

/** What a Redis sink call was doing, for the `operation` label. */
export const REDIS_OPERATIONS = [
  'feature_write',
  'feature_read',
  'session_write',
  'session_read',
  'canary_write',
  'canary_read',
  'incident_write',
  'incident_read',
] as const;
export type RedisOperation = (typeof REDIS_OPERATIONS)[number];

/**
 * The Redis sinks' Prometheus metrics. Several sinks may share one registry,
 * so each metric is created once per registry and found again afterwards.
 */
export class RedisSinkMetrics {
  readonly writeSeconds: Histogram<'operation'>;
  readonly errors: Counter<'operation'>;
  readonly featuresWritten: Counter<'view'>;
  readonly staleSkipped: Counter<'view'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
    this.writeSeconds =
      existing('veroai_redis_write_seconds') ??
      new Histogram({
        name: 'veroai_redis_write_seconds',
        help: 'Time for one pipelined write batch to be acknowledged by Redis',
        labelNames: ['operation'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers,
      });
    this.errors =
      existing('veroai_redis_errors_total') ??
      new Counter({
        name: 'veroai_redis_errors_total',
        help: 'Redis calls that failed (connection lost, timeout, script error)',
        labelNames: ['operation'],
        registers,
      });
    this.featuresWritten =
      existing('veroai_features_written_total') ??
      new Counter({
        name: 'veroai_features_written_total',
        help: 'Feature updates written to the feature store, per feature view',
        labelNames: ['view'],
        registers,
      });
    this.staleSkipped =
      existing('veroai_features_stale_skipped_total') ??
      new Counter({
        name: 'veroai_features_stale_skipped_total',
        help: 'Feature updates the event-time guard refused because Redis already held a newer event time',
        labelNames: ['view'],
        registers,
      });
    // every series exists from the start at 0, so dashboards and alerts see "no errors" rather than "no data"
    for (const operation of REDIS_OPERATIONS) {
      this.errors.inc({ operation }, 0);
      if (operation.endsWith('_write')) this.writeSeconds.zero({ operation });
    }
    for (const view of FEATURE_VIEWS) {
      this.featuresWritten.inc({ view }, 0);
      this.staleSkipped.inc({ view }, 0);
    }
  }

  /**
   * Runs one Redis call, timing it when it is a write; a failure is counted
   * and rethrown as a catalogue error naming the operation:
   * `VEROAI_ERR_SINK_UNAVAILABLE` (Redis down, hung or not serving) or
   * `VEROAI_ERR_SINK_DATA` (Redis refused the value), see `redisFailure`.
   * @example await metrics.observe('feature_write', () => pipeline.exec());
   */
  async observe<T>(operation: RedisOperation, call: () => Promise<T>): Promise<T> {
    const stopTimer = operation.endsWith('_write') ? this.writeSeconds.startTimer({ operation }) : undefined;
    try {
      const result = await call();
      stopTimer?.();
      return result;
    } catch (error) {
      this.errors.inc({ operation });
      throw redisFailure(operation.replace('_', ' '), error);
    }
  }
}

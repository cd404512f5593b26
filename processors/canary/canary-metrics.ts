import { Gauge, type Registry } from 'prom-client';
import { type CanaryDecision, type CanaryVerdict, type KpiWindow, kpiKeyOf } from '../../schemas/index.js';

/** The KPIs of a closed window exported per build, for Prometheus-based canary analysis (Flagger, Argo). */
export const CANARY_KPIS = [
  'requests',
  'error_rate',
  'latency_p50_ms',
  'latency_p90_ms',
  'latency_p99_ms',
] as const;

const VERDICT_VALUE: Readonly<Record<CanaryVerdict, number>> = { rollback: -1, hold: 0, promote: 1 };

/**
 * The canary gate's Prometheus gauges:
 * - `veroai_canary_kpi{tenant,service,version,track,kpi}`: the latest closed
 *   KPI window of each build (so a Prometheus provider can compare canary and
 *   stable too);
 * - `veroai_canary_window_end_seconds{tenant,service,version,track}`: when it ended (event time);
 * - `veroai_canary_verdict{tenant,service,rollout}`: -1 rollback, 0 hold, 1 promote;
 * - `veroai_canary_score{tenant,service,rollout}`: 0–100.
 * Created once per registry and found again afterwards.
 */
export class CanaryMetrics {
  private readonly kpi: Gauge<'tenant' | 'service' | 'version' | 'track' | 'kpi'>;
  private readonly windowEnd: Gauge<'tenant' | 'service' | 'version' | 'track'>;
  private readonly verdict: Gauge<'tenant' | 'service' | 'rollout'>;
  private readonly score: Gauge<'tenant' | 'service' | 'rollout'>;
  /** The end of the latest window reported per build: a late-closing older window does not replace it. */
  private readonly latestEnd = new Map<string, number>();

  constructor(registry: Registry) {
    const registers = [registry];
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> =>
      (registry.getSingleMetric(name) as Gauge<L> | undefined) ??
      new Gauge({ name, help, labelNames, registers });
    this.kpi = gauge('veroai_canary_kpi', 'KPIs of the latest closed KPI window of a service build', [
      'tenant',
      'service',
      'version',
      'track',
      'kpi',
    ]);
    this.windowEnd = gauge(
      'veroai_canary_window_end_seconds',
      'Event time at which the latest closed KPI window of a build ended',
      ['tenant', 'service', 'version', 'track'],
    );
    this.verdict = gauge(
      'veroai_canary_verdict',
      'Latest verdict of a rollout: -1 rollback, 0 hold, 1 promote',
      ['tenant', 'service', 'rollout'],
    );
    this.score = gauge('veroai_canary_score', 'Latest canary score of a rollout, 0-100', [
      'tenant',
      'service',
      'rollout',
    ]);
  }

  windowClosed(w: KpiWindow): void {
    const key = kpiKeyOf(w);
    if ((this.latestEnd.get(key) ?? -1) > w.windowEnd) return;
    this.latestEnd.set(key, w.windowEnd);
    const build = { tenant: w.tenantId, service: w.service, version: w.version, track: w.track };
    const values: Record<(typeof CANARY_KPIS)[number], number | null> = {
      requests: w.requests,
      error_rate: w.requests === 0 ? 0 : w.errors / w.requests,
      latency_p50_ms: w.latencyP50Ms,
      latency_p90_ms: w.latencyP90Ms,
      latency_p99_ms: w.latencyP99Ms,
    };
    for (const kpi of CANARY_KPIS) {
      const value = values[kpi];
      if (value !== null) this.kpi.set({ ...build, kpi }, value);
    }
    this.windowEnd.set(build, w.windowEnd / 1000);
  }

  decided(d: CanaryDecision): void {
    const labels = { tenant: d.tenantId, service: d.service, rollout: d.rolloutId };
    this.verdict.set(labels, VERDICT_VALUE[d.verdict]);
    this.score.set(labels, d.score);
  }
}

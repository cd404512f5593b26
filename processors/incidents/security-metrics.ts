import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RemediationCommand, SecurityIncident } from '../../schemas/index.js';

/**
 * The security processors' Prometheus metrics (dashboards/security.json):
 * - `veroai_security_incidents_open{kind,severity}`: incidents open now, as
 *   this instance has seen them open (each instance reports its tasks';
 *   sum them);
 * - `veroai_security_incidents_opened_total{kind,severity}`;
 * - `veroai_security_incidents_ended_total{kind,status}`: status
 *   auto_resolved, escalated or closed (auto-resolution rate = auto_resolved
 *   over all);
 * - `veroai_security_time_to_detect_seconds{kind}`: event time from the start
 *   of the first anomalous window to the detection;
 * - `veroai_remediation_commands_total{action,dry_run}`.
 * Created once per registry and found again afterwards.
 */
export class SecurityMetrics {
  private readonly open: Gauge<'kind' | 'severity'>;
  private readonly opened: Counter<'kind' | 'severity'>;
  private readonly ended: Counter<'kind' | 'status'>;
  private readonly timeToDetect: Histogram<'kind'>;
  private readonly commands: Counter<'action' | 'dry_run'>;
  /** Open incidents by id, with the labels they are counted under. */
  private readonly openNow = new Map<string, { kind: string; severity: string }>();

  constructor(registry: Registry) {
    const registers = [registry];
    const find = <M>(name: string): M | undefined => registry.getSingleMetric(name) as M | undefined;
    this.open =
      find('veroai_security_incidents_open') ??
      new Gauge({
        name: 'veroai_security_incidents_open',
        help: 'Security incidents open now, by kind and severity',
        labelNames: ['kind', 'severity'],
        registers,
      });
    this.opened =
      find('veroai_security_incidents_opened_total') ??
      new Counter({
        name: 'veroai_security_incidents_opened_total',
        help: 'Security incidents opened',
        labelNames: ['kind', 'severity'],
        registers,
      });
    this.ended =
      find('veroai_security_incidents_ended_total') ??
      new Counter({
        name: 'veroai_security_incidents_ended_total',
        help: 'Security incidents that left open: auto_resolved, escalated or closed',
        labelNames: ['kind', 'status'],
        registers,
      });
    this.timeToDetect =
      find('veroai_security_time_to_detect_seconds') ??
      new Histogram({
        name: 'veroai_security_time_to_detect_seconds',
        help: 'Event time from the start of the first anomalous window to the detection',
        labelNames: ['kind'],
        buckets: [15, 30, 45, 60, 90, 120, 300, 600],
        registers,
      });
    this.commands =
      find('veroai_remediation_commands_total') ??
      new Counter({
        name: 'veroai_remediation_commands_total',
        help: 'Remediation commands emitted',
        labelNames: ['action', 'dry_run'],
        registers,
      });
  }

  /** An incident's new state, as the tracker emitted it. */
  incident(incident: SecurityIncident): void {
    const before = this.openNow.get(incident.incidentId);
    if (before !== undefined) this.open.dec(before);
    if (incident.status === 'open') {
      const labels = { kind: incident.kind, severity: incident.severity };
      this.open.inc(labels);
      this.openNow.set(incident.incidentId, labels);
      if (before === undefined && incident.anomalousWindows === 1) {
        this.opened.inc(labels);
        this.timeToDetect.observe(
          { kind: incident.kind },
          (incident.detectedAt - incident.firstSeenAt) / 1000,
        );
      }
      return;
    }
    this.openNow.delete(incident.incidentId);
    this.ended.inc({ kind: incident.kind, status: incident.status });
  }

  command(command: RemediationCommand): void {
    this.commands.inc({ action: command.action, dry_run: String(command.dryRun) });
  }
}

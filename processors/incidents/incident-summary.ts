/** A short human summary of an incident, built from its evidence (no model involved). */
import type { FeatureScore, SecurityIncident } from '../../schemas/index.js';

const round = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 0));
const percent = (v: number): string => `${Math.round(v * 100)}%`;

const usual = (f: FeatureScore | undefined, show: (v: number) => string = round): string =>
  f?.baseline === null || f?.baseline === undefined ? '' : ` (usual ${show(f.baseline)})`;

export function summaryOf(
  incident: Pick<SecurityIncident, 'kind' | 'entityKind' | 'entityId' | 'tenantId'>,
  features: readonly FeatureScore[],
  windowMs: number,
): string {
  const f = (name: string) => features.find((x) => x.name === name);
  const v = (name: string) => round(f(name)?.value ?? 0);
  const per = `in ${Math.round(windowMs / 1000)} s`;
  const who =
    incident.entityKind === 'ip'
      ? `IP ${incident.entityId}`
      : incident.entityKind === 'user'
        ? `user ${incident.entityId} of tenant ${incident.tenantId}`
        : `tenant ${incident.entityId}`;
  switch (incident.kind) {
    case 'credential_stuffing':
      return `credential stuffing: ${v('auth_failures')} failed logins across ${v('distinct_failed_users')} users from ${who} ${per}${usual(f('auth_failures'))}`;
    case 'scraping':
      return `scraping: ${who} requested ${v('distinct_endpoints')} distinct endpoints ${per}${usual(f('distinct_endpoints'))}`;
    case 'token_abuse':
      return `token abuse: ${who} active from ${v('distinct_ips')} IPs ${per}${usual(f('distinct_ips'))}`;
    case 'error_storm':
      return `error storm: ${percent(f('error_rate')?.value ?? 0)} of ${v('requests')} requests of ${who} failed ${per}${usual(f('error_rate'), percent)}`;
    case 'latency_spike':
      return `latency spike: p95 ${v('latency_p95_ms')} ms for ${who}${usual(f('latency_p95_ms'), (x) => `${round(x)} ms`)}`;
  }
}

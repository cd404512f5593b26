/**
 * The SOC processors on every labelled security scenario (cli/security-scenarios.ts),
 * run in process by `simulateSecurity` (cli/security-simulation.ts: clean
 * telemetry → behaviour windows → scores → incidents on the test driver, with
 * a simulated enforcer that confirms commands and then drops the attack
 * traffic they target). An attack opens exactly the incident its label names,
 * within a minute of its start; a surge, a new tenant or the baseline open
 * none. Credential stuffing runs on the traffic's defaults (4 tenants × 40
 * users, 2 h warm-up, 10 min attack, 20 min after: ~77k events, tens of
 * seconds); every other run on 2 tenants, a 30 min warm-up and a 5 min attack
 * and after (~12k events, a second or two).
 */
import { describe, expect, it } from 'vitest';
import { SECURITY_SCENARIOS, type SecurityScenarioName } from '../../../../cli/security-scenarios.js';
import { type SecuritySimulation, simulateSecurity } from '../../../../cli/security-simulation.js';
import { entityKeyOf, type IncidentKind, type SecurityIncident } from '../../../../schemas/index.js';

const START = Date.UTC(2026, 10, 2, 12, 0, 0);
const SEED = 12;
/** Wall time one scenario may take on a loaded 2-core machine. */
const SCENARIO_TIMEOUT_MS = 180_000;
const WINDOW_MS = 30_000;
/** Less traffic: 2 tenants, a shorter warm-up, attack and after. */
const SMALL = { tenants: 2, warmupMs: 30 * 60_000, attackMs: 5 * 60_000, afterMs: 5 * 60_000 };
/** At the defaults: one attack scenario on the full traffic. */
const FULL_TRAFFIC: readonly SecurityScenarioName[] = ['credential-stuffing'];
/** The latest an operational incident resolves after its attack: 3 quiet windows, a punctuation's offset, the grace. */
const RESOLVED_WITHIN_MS = 4 * WINDOW_MS + 5_000;

const simulate = (name: SecurityScenarioName) =>
  simulateSecurity(name, {
    seed: SEED,
    startTime: START,
    ...(FULL_TRAFFIC.includes(name) ? {} : { traffic: SMALL }),
  });

const REMEDIATED: Partial<Record<IncidentKind, string>> = {
  credential_stuffing: 'block_ip',
  scraping: 'block_ip',
  token_abuse: 'revoke_user_sessions',
};

const keyOf = (i: SecurityIncident) =>
  entityKeyOf({ kind: i.entityKind, id: i.entityId, tenantId: i.tenantId });

function durationOf(name: string, run: SecuritySimulation) {
  console.log(
    JSON.stringify({
      scenario: name,
      events_fed: run.eventsFed,
      elapsed_ms: Math.round(run.elapsedMs),
    }),
  );
}

describe('security scenarios through the SOC processors', () => {
  const attacks = Object.values(SECURITY_SCENARIOS).filter((s) => s.attack);
  const benign = Object.values(SECURITY_SCENARIOS).filter((s) => !s.attack);

  it('covers all 8 labelled scenarios', () => {
    expect(attacks.map((s) => s.name).sort()).toEqual([
      'credential-stuffing',
      'error-storm',
      'latency-spike',
      'scraping',
      'token-abuse',
    ]);
    expect(benign.map((s) => s.name).sort()).toEqual(['quiet', 'tenant-onboarding', 'traffic-surge']);
  });

  it.each(attacks.map((s) => s.name))(
    '%s: exactly the expected incident, detected within 60 s, remediated or resolved after the attack',
    async (name: SecurityScenarioName) => {
      const run = await simulate(name);
      durationOf(name, run);
      const { traffic, incidents, commands } = run;
      const attackStart = traffic.attackStart!;
      const attackEnd = traffic.attackEnd!;
      expect(traffic.expected.length).toBeGreaterThan(0);
      expect(incidents.map((i) => ({ kind: i.kind, entityKey: keyOf(i) }))).toEqual(traffic.expected);

      for (const incident of incidents) {
        // detected by the first or second window of the attack
        expect(incident.detectedAt).toBeGreaterThan(attackStart);
        expect(incident.detectedAt - attackStart).toBeLessThanOrEqual(60_000);
        expect(incident.status).toBe('auto_resolved');
        const action = REMEDIATED[incident.kind];
        const ofIncident = commands.filter((c) => c.incidentId === incident.incidentId);
        if (action !== undefined) {
          // one command, confirmed by the enforcer; the attack's traffic stopped, so it resolved while the attack still ran
          expect(ofIncident).toEqual([
            expect.objectContaining({ action, dryRun: false, issuedAt: incident.detectedAt }),
          ]);
          expect(incident.remediation).toMatchObject({ action, status: 'applied' });
          expect(incident.resolution).toMatch(new RegExp(`^remediation ${action} applied; `));
          expect(run.eventsFed).toBeLessThan(traffic.events.length);
        } else {
          // no remediation for an operational incident: it lasts as long as the attack
          expect(ofIncident).toEqual([]);
          expect(incident.remediation).toBeNull();
          expect(incident.resolvedAt!).toBeGreaterThanOrEqual(attackEnd);
          expect(incident.resolvedAt! - attackEnd).toBeLessThanOrEqual(RESOLVED_WITHIN_MS);
          expect(incident.anomalousWindows).toBeGreaterThanOrEqual(
            ((attackEnd - attackStart) / WINDOW_MS) * 0.8,
          );
        }
      }
      // every update of the incident was open until the last
      const states = run.updates.map((u) => u.status);
      expect(states.slice(0, -1).every((s) => s === 'open')).toBe(true);
      expect(commands).toHaveLength(incidents.filter((i) => REMEDIATED[i.kind] !== undefined).length);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it.each(benign.map((s) => s.name))(
    '%s: no incident, no command',
    async (name: SecurityScenarioName) => {
      const run = await simulate(name);
      durationOf(name, run);
      expect(run.traffic.expected).toEqual([]);
      expect(run.updates).toEqual([]);
      expect(run.commands).toEqual([]);
      expect(run.eventsFed).toBe(run.traffic.events.length);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'a baseline whose tenant had 5 server errors in 30 requests (1 % base rate) raises no error storm',
    async () => {
      // the seed and day test/integration/security-operations.test.ts drew when it saw a false
      // error_storm: umbrella's window 66.5 min in had 5 × 5xx in 30 requests, a 17 % share
      const seed = 36_544_835;
      const startTime = Date.UTC(2040, 0, 1) + (seed % 3_650) * 24 * 3_600_000 + 11 * 3_600_000;
      const run = await simulateSecurity('quiet', {
        seed,
        startTime,
        traffic: { warmupMs: 67 * 60_000, attackMs: 60_000, afterMs: 60_000 },
      });
      durationOf('quiet (seed 36544835)', run);
      expect(run.updates.map((u) => `${u.kind} ${keyOf(u)}`)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'dry run: credential stuffing gets a dry-run command, the attack goes on, the incident stays open until it ends',
    async () => {
      const run = await simulateSecurity('credential-stuffing', {
        seed: SEED,
        startTime: START,
        dryRun: true,
        traffic: SMALL,
      });
      durationOf('credential-stuffing (dry run)', run);
      const { traffic, incidents, commands, updates } = run;
      const attackEnd = traffic.attackEnd!;
      // nothing was blocked
      expect(run.eventsFed).toBe(traffic.events.length);
      expect(incidents.map((i) => ({ kind: i.kind, entityKey: keyOf(i) }))).toEqual(traffic.expected);
      const incident = incidents[0]!;
      expect(commands).toEqual([
        expect.objectContaining({ incidentId: incident.incidentId, action: 'block_ip', dryRun: true }),
      ]);
      // open through the attack (one update per window of it), no escalation although no result came
      const beforeEnd = updates.filter((u) => u.updatedAt < attackEnd);
      expect(beforeEnd.every((u) => u.status === 'open' && u.remediation?.status === 'dry_run')).toBe(true);
      expect(incident.anomalousWindows).toBeGreaterThanOrEqual(
        ((attackEnd - traffic.attackStart!) / WINDOW_MS) * 0.8,
      );
      expect(incident).toMatchObject({
        status: 'auto_resolved',
        remediation: expect.objectContaining({ status: 'dry_run' }),
      });
      expect(incident.resolution).not.toMatch(/applied/);
      expect(incident.resolvedAt!).toBeGreaterThanOrEqual(attackEnd);
      expect(incident.resolvedAt! - attackEnd).toBeLessThanOrEqual(RESOLVED_WITHIN_MS);
    },
    SCENARIO_TIMEOUT_MS,
  );
});

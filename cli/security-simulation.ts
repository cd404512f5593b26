/**
 * Runs a security scenario through the SOC processors in this process
 * (clean telemetry → behaviour windows → anomaly scores → incidents, on the
 * memory transport through the test driver), with a simulated enforcer: a
 * remediation command is confirmed on `remediation_results` a few seconds
 * later and, from then on, the attack traffic it targets is dropped (a
 * blocked IP, a revoked token). What `veroai simulate --scenario <security
 * scenario>` does without a broker, and what the `soc` bench and the tests
 * measure.
 */

import type { IncidentTrackerOptions } from '../processors/incidents/incident-tracker.js';
import {
  REMEDIATION_COMMANDS_TOPIC,
  REMEDIATION_RESULTS_TOPIC,
  SECURITY_INCIDENTS_TOPIC,
  securityOperations,
} from '../processors/incidents/security-operations.js';
import { cleanTelemetry, RAW_EVENTS_TOPIC } from '../processors/telemetry/clean-telemetry.js';
import {
  type RemediationCommand,
  type RemediationResult,
  type SecurityIncident,
  securitySerdes,
  type TelemetryEvent,
  telemetryEventSerde,
} from '../schemas/index.js';
import { MemorySecurityIncidents } from '../sinks/memory/memory-sinks.js';
import { TopologyBuilder } from '../topology/index.js';
import { TestDriver } from '../topology/testing/index.js';
import {
  type SecurityScenarioName,
  type SecurityTraffic,
  type SecurityTrafficOptions,
  securityEventKey,
  securityTraffic,
} from './security-scenarios.js';

export interface SecuritySimulationOptions {
  readonly seed: number;
  /** Event time of the first baseline event (epoch ms). */
  readonly startTime: number;
  /** Remediation commands marked dry run: the enforcer applies nothing, the attack goes on. */
  readonly dryRun?: boolean;
  /** Seconds (event time) an enforcer takes to apply a command. Default 5 s. */
  readonly enforcerDelayMs?: number;
  readonly tracker?: Omit<IncidentTrackerOptions, 'windowMs' | 'dryRun'>;
  /** The traffic's size and phases (tenants, users, warm-up, attack and after lengths); the scenario's defaults otherwise. */
  readonly traffic?: Omit<SecurityTrafficOptions, 'seed' | 'startTime'>;
}

export interface SecuritySimulation {
  readonly traffic: SecurityTraffic;
  /** Every incident state emitted, in order. */
  readonly updates: SecurityIncident[];
  /** The latest state of each incident, by id. */
  readonly incidents: SecurityIncident[];
  readonly commands: RemediationCommand[];
  /** Events fed (after the enforcer's drops) and wall time spent processing them. */
  readonly eventsFed: number;
  readonly elapsedMs: number;
}

/** Event time fed per step: the enforcer reacts between steps. */
const STEP_MS = 10_000;

export async function simulateSecurity(
  name: SecurityScenarioName,
  options: SecuritySimulationOptions,
): Promise<SecuritySimulation> {
  const builder = new TopologyBuilder();
  const events = cleanTelemetry(builder, { telemetrySerde: telemetryEventSerde() });
  const dryRun = options.dryRun ?? false;
  securityOperations(builder, events, {
    serdes: securitySerdes(),
    incidents: new MemorySecurityIncidents(),
    partitions: 1,
    tracker: { ...options.tracker, dryRun },
  });
  const traffic = securityTraffic(name, {
    ...options.traffic,
    seed: options.seed,
    startTime: options.startTime,
  });
  const driver = await TestDriver.create(builder.build(), { applicationId: 'veroai-simulate-security' });
  const updates: SecurityIncident[] = [];
  const commands: RemediationCommand[] = [];
  const enforcer = new SimulatedEnforcer(options.enforcerDelayMs ?? 5_000);
  let eventsFed = 0;
  const started = performance.now();
  try {
    const all = traffic.events;
    for (let i = 0; i < all.length; ) {
      const stepEnd = (all[i] as TelemetryEvent).timestamp + STEP_MS;
      const step: TelemetryEvent[] = [];
      for (; i < all.length && (all[i] as TelemetryEvent).timestamp < stepEnd; i++) {
        const event = all[i] as TelemetryEvent;
        if (!(traffic.isAttack(event) && enforcer.stops(event))) step.push(event);
      }
      eventsFed += step.length;
      await driver.pipeInputs(
        RAW_EVENTS_TOPIC,
        step.map((e) => ({ key: securityEventKey(e), value: e, timestamp: e.timestamp })),
      );
      for (const r of driver.readOutput<string, SecurityIncident>(SECURITY_INCIDENTS_TOPIC))
        updates.push(r.value);
      const issued = driver
        .readOutput<string, RemediationCommand>(REMEDIATION_COMMANDS_TOPIC)
        .map((r) => r.value);
      commands.push(...issued);
      const results = issued.filter((c) => !c.dryRun).map((c) => enforcer.apply(c));
      if (results.length > 0)
        await driver.pipeInputs(
          REMEDIATION_RESULTS_TOPIC,
          results.map((r) => ({ key: r.commandId, value: r, timestamp: r.at })),
        );
    }
    for (const r of driver.readOutput<string, SecurityIncident>(SECURITY_INCIDENTS_TOPIC))
      updates.push(r.value);
  } finally {
    await driver.close();
  }
  const latest = new Map<string, SecurityIncident>();
  for (const u of updates) latest.set(u.incidentId, u);
  return {
    traffic,
    updates,
    incidents: [...latest.values()],
    commands,
    eventsFed,
    elapsedMs: performance.now() - started,
  };
}

/** Applies remediation commands: blocks IPs, revokes users' tokens, until they expire. */
class SimulatedEnforcer {
  private readonly blockedIps = new Map<string, { from: number; until: number }>();
  private readonly revokedUsers = new Map<string, { from: number; until: number }>();

  constructor(private readonly delayMs: number) {}

  apply(command: RemediationCommand): RemediationResult {
    const at = command.issuedAt + this.delayMs;
    const span = { from: at, until: command.expiresAt };
    if (command.action === 'block_ip') this.blockedIps.set(command.target, span);
    if (command.action === 'revoke_user_sessions') this.revokedUsers.set(command.target, span);
    return {
      commandId: command.commandId,
      incidentId: command.incidentId,
      status: 'applied',
      at,
      message: null,
    };
  }

  /** Whether an attack event is stopped by a measure in force at its time. */
  stops(event: TelemetryEvent): boolean {
    const inForce = (span: { from: number; until: number } | undefined) =>
      span !== undefined && event.timestamp >= span.from && event.timestamp < span.until;
    return (
      (event.clientIp !== null && inForce(this.blockedIps.get(event.clientIp))) ||
      (event.userId !== null && inForce(this.revokedUsers.get(`${event.tenantId}/${event.userId}`)))
    );
  }
}

/**
 * The incident tracker's lifecycle on the test driver: hand-made scored
 * windows (AnomalyScore), remediation results and closes on one topic keyed
 * by entity, through `incidentTracker` alone, so that each assertion is on
 * the exact records it emits. The dead-letter cases go through
 * `securityOperations`, whose re-keying by incident id is what rejects a
 * malformed id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BehaviourFeature } from '../../../../processors/anomaly/behaviour-window.js';
import { BEHAVIOUR_FEATURES } from '../../../../processors/anomaly/behaviour-window.js';
import {
  type IncidentInput,
  type IncidentOutput,
  type IncidentTrackerOptions,
  incidentTracker,
  SECURITY_INCIDENTS_STORE,
  type TrackedEntity,
} from '../../../../processors/incidents/incident-tracker.js';
import {
  INCIDENT_COMMANDS_TOPIC,
  REMEDIATION_RESULTS_TOPIC,
  SECURITY_INCIDENTS_TOPIC,
  securityOperations,
} from '../../../../processors/incidents/security-operations.js';
import { cleanTelemetry } from '../../../../processors/telemetry/clean-telemetry.js';
import {
  type AnomalyScore,
  type EntityRef,
  entityKeyOf,
  type IncidentCommand,
  type IncidentKind,
  incidentCommandSerde,
  incidentIdOf,
  type RemediationCommand,
  type RemediationResult,
  remediationResultSerde,
  type SecurityIncident,
  securitySerdes,
  telemetryEventSerde,
} from '../../../../schemas/index.js';
import { MemorySecurityIncidents } from '../../../../sinks/memory/memory-sinks.js';
import { DLQ_HEADERS, type Serde, Serdes, TopologyBuilder } from '../../../../topology/index.js';
import { TestDriver } from '../../../../topology/testing/index.js';
import { ipEntity, tenantEntity, userEntity } from '../../../support/security-incident.js';

/** 12:00:00 UTC, window-aligned. */
const T0 = Date.UTC(2026, 10, 2, 12, 0, 0);
const W = 30_000;
const INPUTS = 'incident_inputs';
const OUT = 'incident_outputs';

const ATTACKER = ipEntity('203.0.113.7');
const BYSTANDER = ipEntity('10.1.0.9');
const ACME = tenantEntity('acme');

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

async function trackerDriver(options: IncidentTrackerOptions = {}): Promise<TestDriver> {
  const builder = new TopologyBuilder();
  builder.addStateStore(SECURITY_INCIDENTS_STORE, {
    key: Serdes.string,
    value: Serdes.json<TrackedEntity>(),
  });
  builder
    .stream(INPUTS, { key: Serdes.string, value: Serdes.json<IncidentInput>() })
    .process(incidentTracker(options), {
      name: 'track-incidents',
      stores: [SECURITY_INCIDENTS_STORE],
      key: Serdes.string as Serde<string>,
      value: Serdes.json<IncidentOutput>(),
    })
    .to(OUT);
  driver = await TestDriver.create(builder.build(), { applicationId: 'incident-tracker-test' });
  return driver;
}

type Values = Partial<Record<BehaviourFeature, number>>;

/** A scored window of `entity` ending at `end`: every feature, with the values, baselines and scores given (else 0, null, 0). */
function scored(
  entity: EntityRef,
  end: number,
  values: Values,
  scores: Values = {},
  baselines: Values = {},
): AnomalyScore {
  const features = BEHAVIOUR_FEATURES.map((name) => ({
    name,
    value: values[name] ?? 0,
    baseline: baselines[name] ?? null,
    score: scores[name] ?? 0,
  }));
  return {
    entityKind: entity.kind,
    entityId: entity.id,
    tenantId: entity.tenantId,
    windowStart: end - W,
    windowEnd: end,
    score: Math.max(0, ...features.map((f) => f.score)),
    multivariateScore: 0,
    features,
    sampleEventIds: [`evt-${entity.id}-${end}`],
  };
}

/** A credential-stuffing window (40 failures across 20 users) with this signal. */
const stuffing = (end: number, signal: number, values: Values = {}) =>
  scored(
    ATTACKER,
    end,
    { requests: 41, auth_failures: 40, distinct_failed_users: 20, ...values },
    { auth_failures: signal, distinct_failed_users: signal - 0.05 },
    { auth_failures: 2 },
  );
/** A window of nothing unusual. */
const calm = (entity: EntityRef, end: number) => scored(entity, end, { requests: 5 });

async function send(...inputs: IncidentInput[]): Promise<Array<{ key: string; value: IncidentOutput }>> {
  const d = driver!;
  for (const input of inputs) {
    const [key, timestamp] =
      'score' in input
        ? [
            entityKeyOf({
              kind: input.score.entityKind,
              id: input.score.entityId,
              tenantId: input.score.tenantId,
            }),
            input.score.windowEnd,
          ]
        : 'result' in input
          ? [keyOfIncident(input.result.incidentId), input.result.at]
          : [keyOfIncident(input.close.incidentId), input.close.issuedAt];
    await d.pipeInput(INPUTS, key, input, timestamp);
  }
  return d.readOutput<string, IncidentOutput>(OUT).map((r) => ({ key: r.key, value: r.value }));
}

const keyOfIncident = (incidentId: string) =>
  Buffer.from(incidentId.split('.')[0]!, 'base64url').toString('utf8');
const idOf = (entity: EntityRef, kind: IncidentKind, detectedAt: number) =>
  incidentIdOf(entityKeyOf(entity), kind, detectedAt);
const incidentOut = (key: string, incident: SecurityIncident) => ({ key, value: { incident } });
const commandOut = (command: RemediationCommand) => ({ key: command.target, value: { command } });

const topFeature = (
  name: BehaviourFeature,
  value: number,
  score: number,
  baseline: number | null = null,
) => ({
  name,
  value,
  baseline,
  score,
});

/** The credential-stuffing incident `stuffing(detectedAt, confidence)` opens. */
function openedStuffing(detectedAt: number, confidence: number): SecurityIncident {
  return {
    incidentId: idOf(ATTACKER, 'credential_stuffing', detectedAt),
    kind: 'credential_stuffing',
    entityKind: 'ip',
    entityId: '203.0.113.7',
    tenantId: null,
    severity: confidence >= 0.97 ? 'critical' : 'high',
    status: 'open',
    confidence,
    firstSeenAt: detectedAt - W,
    detectedAt,
    updatedAt: detectedAt,
    resolvedAt: null,
    resolution: null,
    anomalousWindows: 1,
    topFeatures: [
      topFeature('auth_failures', 40, confidence, 2),
      topFeature('distinct_failed_users', 20, confidence - 0.05),
    ],
    sampleEventIds: [`evt-203.0.113.7-${detectedAt}`],
    summary: 'credential stuffing: 40 failed logins across 20 users from IP 203.0.113.7 in 30 s (usual 2)',
    remediation: null,
  };
}

const result = (
  incident: SecurityIncident,
  status: RemediationResult['status'],
  at: number,
  message: string | null = null,
): IncidentInput => ({
  result: {
    commandId: incident.remediation!.commandId,
    incidentId: incident.incidentId,
    status,
    at,
    message,
  },
});
const close = (
  incidentId: string,
  actor: string,
  reason: string | null,
  issuedAt: number,
): IncidentInput => ({
  close: { incidentId, action: 'close', actor, reason, issuedAt },
});

describe('incident tracker: opening', () => {
  it('opens only when the floors hold and the signal reaches openAbove, then updates the one open incident', async () => {
    await trackerDriver();
    // a strong signal below a floor (5 distinct users): nothing
    expect(await send({ score: stuffing(T0 + W, 0.99, { distinct_failed_users: 4 }) })).toEqual([]);
    // every floor, a weak signal: nothing
    expect(await send({ score: stuffing(T0 + 2 * W, 0.79) })).toEqual([]);
    // a user's window with the same features is no IP: no credential stuffing
    const user = scored(
      userEntity('acme', 'u1'),
      T0 + 2 * W,
      { auth_failures: 40, distinct_failed_users: 20 },
      { auth_failures: 0.99 },
    );
    expect(await send({ score: user })).toEqual([]);

    // both: it opens, below remediateAbove (0.9), so without a remediation
    const opened = openedStuffing(T0 + 3 * W, 0.85);
    expect(await send({ score: stuffing(T0 + 3 * W, 0.85) })).toEqual([incidentOut('203.0.113.7', opened)]);

    // a second matching window, stronger: the same incident, updated, never a second one; now confident, it gets its remediation
    const commandId = `${opened.incidentId}/block_ip`;
    const updated: SecurityIncident = {
      ...opened,
      remediation: {
        commandId,
        action: 'block_ip',
        status: 'pending',
        issuedAt: T0 + 4 * W,
        expiresAt: T0 + 4 * W + 3_600_000,
      },
      confidence: 0.95,
      anomalousWindows: 2,
      updatedAt: T0 + 4 * W,
      topFeatures: [
        topFeature('auth_failures', 60, 0.95, 2),
        topFeature('distinct_failed_users', 20, 0.95 - 0.05),
      ],
      sampleEventIds: [`evt-203.0.113.7-${T0 + 3 * W}`, `evt-203.0.113.7-${T0 + 4 * W}`],
      summary: 'credential stuffing: 60 failed logins across 20 users from IP 203.0.113.7 in 30 s (usual 2)',
    };
    expect(await send({ score: stuffing(T0 + 4 * W, 0.95, { auth_failures: 60 }) })).toEqual([
      incidentOut('203.0.113.7', updated),
      commandOut({
        commandId,
        incidentId: opened.incidentId,
        action: 'block_ip',
        target: '203.0.113.7',
        tenantId: null,
        issuedAt: T0 + 4 * W,
        expiresAt: T0 + 4 * W + 3_600_000,
        ttlMs: 3_600_000,
        dryRun: false,
        reason: updated.summary,
      }),
    ]);
    // a replayed window (at-least-once) changes nothing
    expect(await send({ score: stuffing(T0 + 4 * W, 0.95, { auth_failures: 60 }) })).toEqual([]);
    // weaker but matching: counted, the evidence of the strongest window kept
    expect(await send({ score: stuffing(T0 + 5 * W, 0.82) })).toEqual([
      incidentOut('203.0.113.7', {
        ...updated,
        anomalousWindows: 3,
        updatedAt: T0 + 5 * W,
        sampleEventIds: [...updated.sampleEventIds, `evt-203.0.113.7-${T0 + 5 * W}`],
      }),
    ]);
  });

  it('a tenant incident is keyed by its tenant and names it; one per kind, kinds apart', async () => {
    await trackerDriver();
    const storm = scored(
      ACME,
      T0 + W,
      { requests: 200, error_rate: 0.4, latency_p95_ms: 900 },
      { error_rate: 0.99, latency_p95_ms: 0.85 },
      { error_rate: 0.01, latency_p95_ms: 150 },
    );
    const out = await send({ score: storm });
    expect(out.map((o) => [o.key, (o.value as { incident: SecurityIncident }).incident.kind])).toEqual([
      ['acme', 'error_storm'],
      ['acme', 'latency_spike'],
    ]);
    const [errorStorm, latency] = out.map((o) => (o.value as { incident: SecurityIncident }).incident);
    expect(errorStorm).toMatchObject({
      incidentId: idOf(ACME, 'error_storm', T0 + W),
      entityKind: 'tenant',
      entityId: 'acme',
      tenantId: 'acme',
      severity: 'high',
      confidence: 0.99,
      remediation: null,
      summary: 'error storm: 40% of 200 requests of tenant acme failed in 30 s (usual 1%)',
    });
    expect(latency).toMatchObject({
      incidentId: idOf(ACME, 'latency_spike', T0 + W),
      severity: 'low',
      summary: 'latency spike: p95 900 ms for tenant acme (usual 150 ms)',
    });
  });
});

describe('incident tracker: hysteresis and auto-resolution', () => {
  it('stays open at stayFactor × the floors whatever the signal; 3 quiet windows resolve it', async () => {
    await trackerDriver();
    const opened = openedStuffing(T0 + W, 0.85);
    expect(await send({ score: stuffing(T0 + W, 0.85) })).toEqual([incidentOut('203.0.113.7', opened)]);
    // half the floors (10, 5): 5 failures across 3 users, no signal at all: still anomalous
    const half = scored(ATTACKER, T0 + 2 * W, { auth_failures: 5, distinct_failed_users: 3 });
    const kept: SecurityIncident = {
      ...opened,
      anomalousWindows: 2,
      updatedAt: T0 + 2 * W,
      sampleEventIds: [...opened.sampleEventIds, `evt-203.0.113.7-${T0 + 2 * W}`],
    };
    expect(await send({ score: half })).toEqual([incidentOut('203.0.113.7', kept)]);
    // below: quiet windows, nothing emitted for the first two
    const below = (end: number) =>
      scored(ATTACKER, end, { auth_failures: 4, distinct_failed_users: 3 }, { auth_failures: 0.99 });
    expect(await send({ score: below(T0 + 3 * W) })).toEqual([]);
    expect(await send({ score: below(T0 + 4 * W) })).toEqual([]);
    // the third: auto-resolved, once
    expect(await send({ score: below(T0 + 5 * W) })).toEqual([
      incidentOut('203.0.113.7', {
        ...kept,
        status: 'auto_resolved',
        updatedAt: T0 + 5 * W,
        resolvedAt: T0 + 5 * W,
        resolution: 'signal back to normal for 3 windows',
      }),
    ]);
    expect(await send({ score: calm(BYSTANDER, T0 + 6 * W) })).toEqual([]);
    // a later attack is a new incident
    expect(await send({ score: stuffing(T0 + 7 * W, 0.85) })).toEqual([
      incidentOut('203.0.113.7', openedStuffing(T0 + 7 * W, 0.85)),
    ]);
  });

  it('quiet windows count in a row: a window with the signal again starts the count over', async () => {
    await trackerDriver();
    await send({ score: stuffing(T0 + W, 0.85) });
    const below = (end: number) => scored(ATTACKER, end, { auth_failures: 1 });
    expect(await send({ score: below(T0 + 2 * W) }, { score: below(T0 + 3 * W) })).toEqual([]);
    const back = await send({ score: stuffing(T0 + 4 * W, 0.85) });
    expect(back.map((o) => (o.value as { incident: SecurityIncident }).incident.anomalousWindows)).toEqual([
      2,
    ]);
    // two quiet windows after it: still open
    expect(await send({ score: below(T0 + 5 * W) }, { score: below(T0 + 6 * W) })).toEqual([]);
    const third = await send({ score: below(T0 + 7 * W) });
    expect(third.map((o) => (o.value as { incident: SecurityIncident }).incident.status)).toEqual([
      'auto_resolved',
    ]);
  });

  it('silence (no window of the entity, stream time moved on by others) resolves it', async () => {
    await trackerDriver();
    const opened = openedStuffing(T0 + W, 0.85);
    await send({ score: stuffing(T0 + W, 0.85) });
    expect(
      await send({ score: calm(BYSTANDER, T0 + 2 * W) }, { score: calm(BYSTANDER, T0 + 3 * W) }),
    ).toEqual([]);
    expect(await send({ score: calm(BYSTANDER, T0 + 4 * W) })).toEqual([
      incidentOut('203.0.113.7', {
        ...opened,
        status: 'auto_resolved',
        updatedAt: T0 + 4 * W,
        resolvedAt: T0 + 4 * W,
        resolution: 'no signal for 3 windows',
      }),
    ]);
    // no longer tracked: more silence emits nothing
    expect(
      await send({ score: calm(BYSTANDER, T0 + 5 * W) }, { score: calm(BYSTANDER, T0 + 8 * W) }),
    ).toEqual([]);
  });
});

describe("incident tracker: its clock is the windows', not the task's stream time", () => {
  it('a long window grace (stream time far ahead of the windows) neither resolves nor times out an incident as it opens', async () => {
    const d = await trackerDriver();
    const graceMs = 10 * 60_000;
    // windows reach the tracker a grace after their end: the task's stream time is that far ahead
    const late = async (input: IncidentInput, key: string, windowEnd: number) => {
      await d.pipeInput(INPUTS, key, input, windowEnd + graceMs);
      return d.readOutput<string, IncidentOutput>(OUT).map((r) => r.value);
    };
    const opened = await late({ score: stuffing(T0 + W, 0.95) }, 'ip/203.0.113.7', T0 + W);
    expect(opened.map((o) => ('incident' in o ? o.incident.status : o.command.action))).toEqual([
      'open',
      'block_ip',
    ]);
    // another IP's next window: a punctuation runs, 10 minutes of stream time later, but only one window later
    const other = calm({ kind: 'ip', id: '198.51.100.1', tenantId: null }, T0 + 2 * W);
    expect(await late({ score: other }, 'ip/198.51.100.1', T0 + 2 * W)).toEqual([]);
    // three windows without the signal: resolved by the windows' time
    const quiet = calm({ kind: 'ip', id: '198.51.100.1', tenantId: null }, T0 + 5 * W);
    const resolved = await late({ score: quiet }, 'ip/198.51.100.1', T0 + 5 * W);
    expect(resolved.map((o) => ('incident' in o ? [o.incident.status, o.incident.resolution] : []))).toEqual([
      ['escalated', 'remediation block_ip not confirmed within 120 s'],
    ]);
  });
});

describe('incident tracker: remediation', () => {
  const CONFIDENT = 0.95;

  function remediated(detectedAt: number, status: 'pending' | 'dry_run' = 'pending') {
    const incident = openedStuffing(detectedAt, CONFIDENT);
    const commandId = `${incident.incidentId}/block_ip`;
    const withRemediation: SecurityIncident = {
      ...incident,
      remediation: {
        commandId,
        action: 'block_ip',
        status,
        issuedAt: detectedAt,
        expiresAt: detectedAt + 3_600_000,
      },
    };
    const command: RemediationCommand = {
      commandId,
      incidentId: incident.incidentId,
      action: 'block_ip',
      target: '203.0.113.7',
      tenantId: null,
      issuedAt: detectedAt,
      expiresAt: detectedAt + 3_600_000,
      ttlMs: 3_600_000,
      dryRun: status === 'dry_run',
      reason: incident.summary,
    };
    return { incident: withRemediation, command };
  }

  it('a confident credential stuffing blocks the IP; applied, then resolved saying so', async () => {
    await trackerDriver();
    const { incident, command } = remediated(T0 + W);
    expect(command.commandId).toBe(
      `${Buffer.from('ip/203.0.113.7').toString('base64url')}.credential_stuffing.${T0 + W}/block_ip`,
    );
    expect(await send({ score: stuffing(T0 + W, CONFIDENT) })).toEqual([
      incidentOut('203.0.113.7', incident),
      commandOut(command),
    ]);
    const applied: SecurityIncident = {
      ...incident,
      remediation: { ...incident.remediation!, status: 'applied' },
      updatedAt: T0 + W + 5_000,
    };
    expect(await send(result(incident, 'applied', T0 + W + 5_000))).toEqual([
      incidentOut('203.0.113.7', applied),
    ]);
    // the same result again (at-least-once): nothing
    expect(await send(result(incident, 'applied', T0 + W + 6_000))).toEqual([]);
    // blocked: the IP goes silent; past the remediation timeout nothing escalates
    const silence = await send(
      { score: calm(BYSTANDER, T0 + 2 * W) },
      { score: calm(BYSTANDER, T0 + 3 * W) },
      { score: calm(BYSTANDER, T0 + 4 * W) },
    );
    expect(silence).toEqual([
      incidentOut('203.0.113.7', {
        ...applied,
        status: 'auto_resolved',
        updatedAt: T0 + 4 * W,
        resolvedAt: T0 + 4 * W,
        resolution: 'remediation block_ip applied; no signal for 3 windows',
      }),
    ]);
  });

  it('a failed remediation escalates with its message', async () => {
    await trackerDriver();
    const { incident } = remediated(T0 + W);
    await send({ score: stuffing(T0 + W, CONFIDENT) });
    expect(await send(result(incident, 'failed', T0 + W + 4_000, 'firewall API returned 503'))).toEqual([
      incidentOut('203.0.113.7', {
        ...incident,
        status: 'escalated',
        remediation: { ...incident.remediation!, status: 'failed' },
        updatedAt: T0 + W + 4_000,
        resolvedAt: T0 + W + 4_000,
        resolution: 'remediation block_ip failed: firewall API returned 503',
      }),
    ]);
    // escalated: no longer tracked, a late 'applied' changes nothing, the attack goes on as a new incident
    expect(await send(result(incident, 'applied', T0 + W + 9_000))).toEqual([]);
    const next = await send({ score: stuffing(T0 + 2 * W, CONFIDENT) });
    expect(
      next.map((o) => ('incident' in o.value ? o.value.incident.incidentId : o.value.command.commandId)),
    ).toEqual([
      idOf(ATTACKER, 'credential_stuffing', T0 + 2 * W),
      `${idOf(ATTACKER, 'credential_stuffing', T0 + 2 * W)}/block_ip`,
    ]);
  });

  it('no result within remediationTimeoutMs of stream time: escalated, remediation timed_out', async () => {
    await trackerDriver();
    const { incident } = remediated(T0 + W);
    await send({ score: stuffing(T0 + W, CONFIDENT) });
    // the attack goes on (not blocked): updates, no escalation before 120 s
    let current = incident;
    for (let w = 2; w <= 4; w++) {
      current = {
        ...current,
        anomalousWindows: w,
        updatedAt: T0 + w * W,
        sampleEventIds: [...current.sampleEventIds, `evt-203.0.113.7-${T0 + w * W}`],
      };
      expect(await send({ score: stuffing(T0 + w * W, CONFIDENT) })).toEqual([
        incidentOut('203.0.113.7', current),
      ]);
    }
    // at 120 s after the command: the window's update, then the escalation
    current = {
      ...current,
      anomalousWindows: 5,
      updatedAt: T0 + 5 * W,
      sampleEventIds: [...current.sampleEventIds, `evt-203.0.113.7-${T0 + 5 * W}`],
    };
    expect(await send({ score: stuffing(T0 + 5 * W, CONFIDENT) })).toEqual([
      incidentOut('203.0.113.7', current),
      incidentOut('203.0.113.7', {
        ...current,
        status: 'escalated',
        remediation: { ...current.remediation!, status: 'timed_out' },
        resolvedAt: T0 + 5 * W,
        resolution: 'remediation block_ip not confirmed within 120 s',
      }),
    ]);
    // a result after the escalation changes nothing
    expect(await send(result(incident, 'applied', T0 + 5 * W + 1_000))).toEqual([]);
  });

  it('dry run: the command says so, the remediation is dry_run, nothing escalates while the attack goes on', async () => {
    await trackerDriver({ dryRun: true });
    const { incident, command } = remediated(T0 + W, 'dry_run');
    expect(await send({ score: stuffing(T0 + W, CONFIDENT) })).toEqual([
      incidentOut('203.0.113.7', incident),
      commandOut(command),
    ]);
    expect(command.dryRun).toBe(true);
    // 10 windows of attack (5 minutes, past the 2-minute remediation timeout): only updates, still open
    for (let w = 2; w <= 11; w++) {
      const out = await send({ score: stuffing(T0 + w * W, CONFIDENT) });
      expect(
        out.map((o) => [
          'incident' in o.value && o.value.incident.status,
          'incident' in o.value && o.value.incident.remediation?.status,
        ]),
      ).toEqual([['open', 'dry_run']]);
    }
    // a result for a dry run changes nothing
    expect(await send(result(incident, 'applied', T0 + 11 * W + 1_000))).toEqual([]);
    const silence = await send(
      { score: calm(BYSTANDER, T0 + 12 * W) },
      { score: calm(BYSTANDER, T0 + 13 * W) },
      { score: calm(BYSTANDER, T0 + 14 * W) },
    );
    expect(silence.map((o) => (o.value as { incident: SecurityIncident }).incident)).toEqual([
      expect.objectContaining({
        incidentId: incident.incidentId,
        status: 'auto_resolved',
        anomalousWindows: 11,
        severity: 'critical',
        resolvedAt: T0 + 14 * W,
        resolution: 'no signal for 3 windows',
        remediation: incident.remediation,
      }),
    ]);
  });
});

describe('incident tracker: a person closes, age escalates', () => {
  it('a close command closes the incident with the actor and reason; unknown or resolved ids change nothing', async () => {
    await trackerDriver();
    const opened = openedStuffing(T0 + W, 0.85);
    await send({ score: stuffing(T0 + W, 0.85) });
    // another incident id of the same entity and kind (another detection time): nothing
    expect(
      await send(close(idOf(ATTACKER, 'credential_stuffing', T0), 'alice', null, T0 + W + 1_000)),
    ).toEqual([]);
    // an entity with no incident: nothing
    expect(
      await send(close(idOf(BYSTANDER, 'credential_stuffing', T0 + W), 'alice', null, T0 + W + 1_000)),
    ).toEqual([]);
    expect(
      await send(close(opened.incidentId, 'alice@soc', 'known pen test from our red team', T0 + W + 2_000)),
    ).toEqual([
      incidentOut('203.0.113.7', {
        ...opened,
        status: 'closed',
        updatedAt: T0 + W + 2_000,
        resolvedAt: T0 + W + 2_000,
        resolution: 'closed by alice@soc: known pen test from our red team',
      }),
    ]);
    // closed twice: nothing
    expect(await send(close(opened.incidentId, 'bob', null, T0 + W + 3_000))).toEqual([]);
    // an incident auto-resolved before the close: nothing
    const later = openedStuffing(T0 + 3 * W, 0.85);
    await send({ score: stuffing(T0 + 3 * W, 0.85) });
    const resolved = await send(
      { score: calm(BYSTANDER, T0 + 4 * W) },
      { score: calm(BYSTANDER, T0 + 5 * W) },
      { score: calm(BYSTANDER, T0 + 6 * W) },
    );
    expect(resolved.map((o) => (o.value as { incident: SecurityIncident }).incident.status)).toEqual([
      'auto_resolved',
    ]);
    expect(await send(close(later.incidentId, 'bob', null, T0 + 6 * W + 1_000))).toEqual([]);
  });

  it('a close without a reason says who closed it', async () => {
    await trackerDriver();
    const storm = scored(ACME, T0 + W, { requests: 100, error_rate: 0.3 }, { error_rate: 0.9 });
    await send({ score: storm });
    const out = await send(close(idOf(ACME, 'error_storm', T0 + W), 'bob', null, T0 + W + 500));
    expect(out).toEqual([
      {
        key: 'acme',
        value: {
          incident: expect.objectContaining({
            status: 'closed',
            resolution: 'closed by bob',
            resolvedAt: T0 + W + 500,
          }),
        },
      },
    ]);
  });

  it('escalateAfterMs: still open that long after detection, escalated', async () => {
    await trackerDriver({ escalateAfterMs: 120_000 });
    await send({ score: stuffing(T0 + W, 0.85) });
    for (let w = 2; w <= 4; w++) {
      const out = await send({ score: stuffing(T0 + w * W, 0.85) });
      expect(out.map((o) => (o.value as { incident: SecurityIncident }).incident.status)).toEqual(['open']);
    }
    const out = await send({ score: stuffing(T0 + 5 * W, 0.85) });
    expect(out.map((o) => (o.value as { incident: SecurityIncident }).incident)).toEqual([
      expect.objectContaining({ status: 'open', anomalousWindows: 5 }),
      expect.objectContaining({
        status: 'escalated',
        anomalousWindows: 5,
        updatedAt: T0 + 5 * W,
        resolvedAt: T0 + 5 * W,
        resolution: 'still active 2 min after detection',
        remediation: null,
      }),
    ]);
  });
});

describe('incident tracker in securityOperations: malformed incident ids', () => {
  it('a result or a close naming no incident goes to the dead-letter topic with the reason, bytes intact', async () => {
    const builder = new TopologyBuilder();
    const events = cleanTelemetry(builder, { telemetrySerde: telemetryEventSerde() });
    securityOperations(builder, events, {
      serdes: securitySerdes(),
      incidents: new MemorySecurityIncidents(),
      partitions: 1,
    });
    driver = await TestDriver.create(builder.build(), { applicationId: 'incident-dlq-test' });
    const badResult: RemediationResult = {
      commandId: 'cmd-1',
      incidentId: 'not-an-incident',
      status: 'applied',
      at: T0,
      message: null,
    };
    // a well-formed shape whose entity part is no entity key
    const badClose: IncidentCommand = {
      incidentId: `${Buffer.from('nobody').toString('base64url')}.scraping.${T0}`,
      action: 'close',
      actor: 'alice',
      reason: null,
      issuedAt: T0,
    };
    await driver.pipeInput(REMEDIATION_RESULTS_TOPIC, 'cmd-1', badResult, T0);
    await driver.pipeInput(INCIDENT_COMMANDS_TOPIC, badClose.incidentId, badClose, T0);
    const dead = driver.readDeadLetters();
    expect(
      dead.map((r) => [r.headers[DLQ_HEADERS.topic], String(r.headers[DLQ_HEADERS.errorMessage])]),
    ).toEqual([
      [
        REMEDIATION_RESULTS_TOPIC,
        expect.stringContaining("'not-an-incident' is not an incident id (<base64url entity>.<kind>.<time>)"),
      ],
      [INCIDENT_COMMANDS_TOPIC, expect.stringContaining(`'${badClose.incidentId}' is not an incident id`)],
    ]);
    expect(remediationResultSerde().deserialize(dead[0]!.value, REMEDIATION_RESULTS_TOPIC)).toEqual(
      badResult,
    );
    expect(incidentCommandSerde().deserialize(dead[1]!.value, INCIDENT_COMMANDS_TOPIC)).toEqual(badClose);
    expect(driver.readOutput(SECURITY_INCIDENTS_TOPIC)).toEqual([]);
  });
});

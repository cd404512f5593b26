import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityEventKey, securityTraffic } from '../../cli/security-scenarios.js';
import { ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { ANOMALY_SCORES_TOPIC } from '../../processors/anomaly/behaviour-anomalies.js';
import {
  INCIDENT_COMMANDS_TOPIC,
  REMEDIATION_COMMANDS_TOPIC,
  REMEDIATION_RESULTS_TOPIC,
  SECURITY_INCIDENTS_TOPIC,
  securityOperations,
} from '../../processors/incidents/security-operations.js';
import { cleanTelemetry, RAW_EVENTS_TOPIC } from '../../processors/telemetry/clean-telemetry.js';
import {
  entityKeyOf,
  type IncidentCommand,
  incidentCommandSerde,
  type RemediationCommand,
  type RemediationResult,
  remediationCommandSerde,
  remediationResultSerde,
  type SecurityIncident,
  securityIncidentSerde,
  securitySerdes,
  type TelemetryEvent,
  telemetryEventSerde,
} from '../../schemas/index.js';
import { MemorySecurityIncidents } from '../../sinks/memory/memory-sinks.js';
import { internalTopics, StreamsApplication, TopologyBuilder } from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { produce, readTopic, startGroupAtEnd, untilCaughtUp } from '../support/kafka-io.js';

const PARTITIONS = 3;
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const GRACE_MS = 15 * SECOND;
/** Event time written per step near the attack: at most the grace, so that no attack event is late. */
const STEP_MS = GRACE_MS;
// a seed and a day of this run only, later than other suites' event times on the shared raw_events (their
// events are late for this run's windows rather than moving its stream time); 11:00 UTC, so the attack
// comes in the day's traffic (over 50k events)
const seed = Date.now() % 1_000_000_000;
const START = Date.UTC(2040, 0, 1) + (seed % 3_650) * 24 * 3_600_000 + 11 * 3_600_000;
const SECURITY_TOPICS = [
  RAW_EVENTS_TOPIC,
  ANOMALY_SCORES_TOPIC,
  SECURITY_INCIDENTS_TOPIC,
  REMEDIATION_COMMANDS_TOPIC,
  REMEDIATION_RESULTS_TOPIC,
  INCIDENT_COMMANDS_TOPIC,
];

let brokers: string[];
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  brokers = await ensureKafka();
  const transport = new KafkaTransport({
    brokers,
    clientId: 'soc-it-setup',
    logger: pino({ level: 'warn' }),
  });
  try {
    await transport.ensureTopics(SECURITY_TOPICS.map((name) => ({ name, partitions: PARTITIONS })));
  } finally {
    await transport.close();
  }
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

describe('security operations on Kafka', () => {
  it('credential stuffing: one incident for the attacker IP, a block command, applied by the enforcer, then resolved', async () => {
    const traffic = securityTraffic('credential-stuffing', {
      seed,
      startTime: START,
      attackMs: 3 * MINUTE,
      afterMs: 3 * MINUTE,
    });
    const attackStart = traffic.attackStart!;
    const [expected] = traffic.expected;
    expect(traffic.expected).toHaveLength(1);
    expect(traffic.events.length).toBeGreaterThanOrEqual(50_000);

    const applicationId = uniqueName('soc-it');
    const inputs = [RAW_EVENTS_TOPIC, REMEDIATION_RESULTS_TOPIC, INCIDENT_COMMANDS_TOPIC];
    await startGroupAtEnd(brokers, applicationId, inputs);
    const sink = new MemorySecurityIncidents();
    const builder = new TopologyBuilder();
    const events = cleanTelemetry(builder, { telemetrySerde: telemetryEventSerde() });
    securityOperations(builder, events, {
      serdes: securitySerdes(),
      incidents: sink,
      partitions: PARTITIONS,
      graceMs: GRACE_MS,
    });
    const topology = builder.build();
    const logger = pino({ level: 'warn' });
    const transport = new KafkaTransport({ brokers, clientId: applicationId, logger });
    const app = new StreamsApplication(topology, {
      applicationId,
      transport,
      logger,
      processingGuarantee: 'at_least_once',
      commitIntervalMs: 200,
      metricsRegistry: new Registry(),
    });
    closers.push(
      () => transport.close(),
      () => app.stop(),
    );
    await app.start();
    const readByApp = [
      ...inputs,
      ...internalTopics(topology, applicationId)
        .filter((t) => t.kind === 'repartition')
        .map((t) => t.name),
    ];
    const caughtUp = () => untilCaughtUp(brokers, applicationId, readByApp, 300_000);

    const telemetry = telemetryEventSerde();
    await telemetry.prepare?.(RAW_EVENTS_TOPIC);
    const write = (batch: readonly TelemetryEvent[]) =>
      produce(
        brokers,
        RAW_EVENTS_TOPIC,
        batch.map((e) => ({
          key: securityEventKey(e),
          value: telemetry.serialize(e, RAW_EVENTS_TOPIC),
          timestamp: e.timestamp,
        })),
      );
    let next = 0;
    /** Writes the events before `until` not yet written, in steps of STEP_MS, each once the application caught up. */
    const writeUntil = async (until: number) => {
      while (next < traffic.events.length && traffic.events[next]!.timestamp < until) {
        const stepEnd = Math.min(until, traffic.events[next]!.timestamp + STEP_MS);
        const from = next;
        while (next < traffic.events.length && traffic.events[next]!.timestamp < stepEnd) next++;
        await write(traffic.events.slice(from, next));
        await caughtUp();
      }
    };
    const incidentsOnTopic = async () =>
      (await readTopic(brokers, SECURITY_INCIDENTS_TOPIC, { toEnd: true }))
        .map(
          (r) => securityIncidentSerde().deserialize(r.value, SECURITY_INCIDENTS_TOPIC) as SecurityIncident,
        )
        .filter((i) => i.detectedAt >= START && i.detectedAt < traffic.end + 10 * MINUTE);

    // the warmup at once; then a minute before the attack and its first two windows (and their grace) step by step
    const warmupEnd = traffic.events.findIndex((e) => e.timestamp >= attackStart - MINUTE);
    await write(traffic.events.slice(0, warmupEnd));
    next = warmupEnd;
    await caughtUp();
    await writeUntil(attackStart + 2 * 30 * SECOND + GRACE_MS);

    const detected = await incidentsOnTopic();
    const keyOf = (i: SecurityIncident) =>
      entityKeyOf({ kind: i.entityKind, id: i.entityId, tenantId: i.tenantId });
    // exactly one incident, the expected one, detected by the first window of the attack or the next
    expect([...new Set(detected.map((i) => `${i.kind} ${keyOf(i)}`))]).toEqual([
      `${expected!.kind} ${expected!.entityKey}`,
    ]);
    expect(new Set(detected.map((i) => i.incidentId)).size).toBe(1);
    const incident = detected[0]!;
    expect(incident.detectedAt - attackStart).toBeLessThanOrEqual(60 * SECOND);
    expect(incident).toMatchObject({ kind: 'credential_stuffing', entityKind: 'ip', tenantId: null });
    expect(incident.remediation).toMatchObject({ action: 'block_ip', status: 'pending' });
    expect(detected.every((i) => i.status === 'open')).toBe(true);

    const commands = (await readTopic(brokers, REMEDIATION_COMMANDS_TOPIC, { toEnd: true }))
      .filter((r) => r.key === incident.entityId)
      .map((r) => ({
        key: r.key,
        command: remediationCommandSerde().deserialize(
          r.value,
          REMEDIATION_COMMANDS_TOPIC,
        ) as RemediationCommand,
      }))
      .filter((c) => c.command.incidentId === incident.incidentId);
    expect(commands.length).toBeGreaterThanOrEqual(1);
    const command = commands[0]!.command;
    expect(new Set(commands.map((c) => JSON.stringify(c.command)))).toEqual(
      new Set([JSON.stringify(command)]),
    );
    expect(command).toEqual({
      commandId: incident.remediation!.commandId,
      incidentId: incident.incidentId,
      action: 'block_ip',
      target: incident.entityId,
      tenantId: null,
      issuedAt: incident.detectedAt,
      expiresAt: incident.detectedAt + 3_600_000,
      ttlMs: 3_600_000,
      dryRun: false,
      reason: expect.stringMatching(/^credential stuffing: \d+ failed logins across \d+ users from IP /),
    });

    // the enforcer confirms the block 5 s after the command
    const applied: RemediationResult = {
      commandId: command.commandId,
      incidentId: command.incidentId,
      status: 'applied',
      at: command.issuedAt + 5 * SECOND,
      message: null,
    };
    const results = remediationResultSerde();
    await results.prepare?.(REMEDIATION_RESULTS_TOPIC);
    await produce(brokers, REMEDIATION_RESULTS_TOPIC, [
      {
        key: applied.commandId,
        value: results.serialize(applied, REMEDIATION_RESULTS_TOPIC),
        timestamp: applied.at,
      },
    ]);
    await caughtUp();
    const afterResult = (await incidentsOnTopic()).filter((i) => i.incidentId === incident.incidentId);
    expect(afterResult.at(-1)).toMatchObject({ status: 'open', remediation: { status: 'applied' } });
    expect((await sink.get(incident.incidentId))?.remediation?.status).toBe('applied');

    // the rest of the traffic (this test's enforcer drops nothing: the attack runs to its end), then resolution
    await writeUntil(traffic.end);
    const states = (await incidentsOnTopic()).filter((i) => i.incidentId === incident.incidentId);
    const final = states.at(-1)!;
    expect(final).toMatchObject({
      status: 'auto_resolved',
      remediation: { status: 'applied' },
      resolution: expect.stringMatching(/^remediation block_ip applied; /),
    });
    expect(final.resolvedAt!).toBeGreaterThanOrEqual(traffic.attackEnd!);
    // never escalated, and still the only incident of the run
    expect(states.filter((s) => s.status === 'escalated')).toEqual([]);
    expect(new Set((await incidentsOnTopic()).map((i) => i.incidentId))).toEqual(
      new Set([incident.incidentId]),
    );
    expect(await sink.get(incident.incidentId)).toMatchObject({ status: 'auto_resolved' });

    // a person's close of the resolved incident, through incident_commands: nothing changes
    const close: IncidentCommand = {
      incidentId: incident.incidentId,
      action: 'close',
      actor: 'alice@soc',
      reason: 'confirmed attack, blocked',
      issuedAt: traffic.end,
    };
    const closes = incidentCommandSerde();
    await closes.prepare?.(INCIDENT_COMMANDS_TOPIC);
    await produce(brokers, INCIDENT_COMMANDS_TOPIC, [
      {
        key: close.incidentId,
        value: closes.serialize(close, INCIDENT_COMMANDS_TOPIC),
        timestamp: close.issuedAt,
      },
    ]);
    await caughtUp();
    const afterClose = (await incidentsOnTopic()).filter((i) => i.incidentId === incident.incidentId);
    expect(afterClose).toHaveLength(states.length);
    expect(afterClose.at(-1)).toEqual(final);
  }, 600_000);
});

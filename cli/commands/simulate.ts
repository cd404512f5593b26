import { type Command, InvalidArgumentError } from 'commander';
import { CANARY_COMMANDS_TOPIC } from '../../processors/canary/canary-gate.js';
import { RAW_EVENTS_TOPIC } from '../../processors/telemetry/clean-telemetry.js';
import {
  canaryCommandSerde,
  entityKeyOf,
  type TopicSerdeOptions,
  telemetryEventSerde,
} from '../../schemas/index.js';
import { ConfigError, partitionForKey, type Serde } from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import {
  CANARY_SCENARIOS,
  type CanaryScenario,
  type CanaryScenarioName,
  scenarioEventKey,
  scenarioTraffic,
} from '../canary-scenarios.js';
import { simulateInProcess } from '../canary-simulation.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import {
  SECURITY_SCENARIOS,
  type SecurityScenarioName,
  securityEventKey,
  securityTraffic,
} from '../security-scenarios.js';
import { simulateSecurity } from '../security-simulation.js';

interface SimulateOptions {
  scenario: CanaryScenarioName | SecurityScenarioName;
  seed: number;
  start: number;
  /** false with --no-closing */
  closing: boolean;
}

const SCENARIO_NAMES = [...Object.keys(CANARY_SCENARIOS), ...Object.keys(SECURITY_SCENARIOS)];

const scenarioOf = (name: string): CanaryScenarioName | SecurityScenarioName => {
  if (!SCENARIO_NAMES.includes(name))
    throw new InvalidArgumentError(`expected one of: ${SCENARIO_NAMES.join(', ')}`);
  return name as CanaryScenarioName | SecurityScenarioName;
};

const isSecurityScenario = (name: string): name is SecurityScenarioName => name in SECURITY_SCENARIOS;

const seedOf = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
};

/** A whole minute: KPI windows then line up with the scenario's windows. */
const startOf = (value: string): number => {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('expected epoch milliseconds or an ISO 8601 time');
  return ms - (ms % 60_000);
};

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description(
      `labelled traffic for a scenario: canary (${Object.keys(CANARY_SCENARIOS).join(', ')}) or security (${Object.keys(SECURITY_SCENARIOS).join(', ')}); with TRANSPORT=kafka written to raw_events (and canary_commands) at KAFKA_BROKERS; with the memory transport run through the canary gate or the SOC processors in this process, printing each decision or incident`,
    )
    .requiredOption('--scenario <name>', `one of: ${SCENARIO_NAMES.join(', ')}`, scenarioOf)
    .option('--seed <n>', 'the same seed gives the same requests', seedOf, 1)
    .option(
      '--start <time>',
      'event time of the first window (ISO 8601 or epoch ms); default: now minus the scenario',
      startOf,
    )
    .action(
      async (options: Partial<SimulateOptions> & Pick<SimulateOptions, 'scenario' | 'seed' | 'closing'>) => {
        const config = loadConfig();
        if (isSecurityScenario(options.scenario)) {
          await simulateSecurityScenario(config, options.scenario, options.seed, options.start);
          return;
        }
        const scenario: CanaryScenario = CANARY_SCENARIOS[options.scenario as CanaryScenarioName];
        const start = options.start ?? startOf(String(Date.now() - (scenario.windows + 2) * 60_000));
        const label = {
          scenario: scenario.name,
          description: scenario.description,
          expected: scenario.expected,
        };
        if (config.TRANSPORT === 'memory') {
          const { decisions } = await simulateInProcess(scenario, {
            seed: options.seed,
            startTime: start,
          });
          for (const d of decisions)
            process.stdout.write(
              `${JSON.stringify({ rollout_id: d.rolloutId, decided_at: new Date(d.decidedAt).toISOString(), verdict: d.verdict, status: d.status, score: d.score, windows_judged: d.windowsJudged, summary: d.summary })}\n`,
            );
          const final = decisions.find((d) => d.verdict !== 'hold') ?? decisions[decisions.length - 1];
          process.stdout.write(
            `${JSON.stringify({ ...label, verdict: final?.verdict ?? 'hold', decisions: decisions.length })}\n`,
          );
          return;
        }
        await writeToKafka(config, scenario, { seed: options.seed, start, closing: options.closing }, label);
      },
    );
}

async function writeToKafka(
  config: ReturnType<typeof loadConfig>,
  scenario: CanaryScenario,
  run: { readonly seed: number; readonly start: number; readonly closing: boolean },
  label: Record<string, string>,
): Promise<void> {
  const { seed, start } = run;
  // the gate's windows all close: the last request comes a window plus the gate's grace after the last window
  const closeAfterMs = (config.CANARY_WINDOW_MS ?? 60_000) + (config.CANARY_WINDOW_GRACE_MS ?? 10_000) + 1;
  const traffic = scenarioTraffic(scenario, { seed, startTime: start, closeAfterMs });
  const requests = run.closing ? [...traffic.events, ...traffic.closing] : traffic.events;
  const events = await withKafkaWriter(config, async (write) => {
    await write(
      CANARY_COMMANDS_TOPIC,
      canaryCommandSerde,
      [traffic.start],
      () => traffic.commandKey,
      (c) => c.issuedAt,
    );
    return write(RAW_EVENTS_TOPIC, telemetryEventSerde, requests, scenarioEventKey, (e) => e.timestamp);
  });
  process.stdout.write(
    `${JSON.stringify({ ...label, rollout_id: traffic.start.rolloutId, events, topics: [RAW_EVENTS_TOPIC, CANARY_COMMANDS_TOPIC] })}\n`,
  );
}

type TopicWriter = <T>(
  topic: string,
  serdeOf: (options: TopicSerdeOptions) => Serde<T>,
  values: readonly T[],
  keyOf: (value: T) => string,
  timeOf: (value: T) => number,
) => Promise<number>;

/**
 * Opens a producer on KAFKA_BROKERS for `work`, which writes values to
 * existing topics (keyed and partitioned as Kafka's default partitioner
 * does, stamped with their own time, 5,000 a request); closes it after.
 */
async function withKafkaWriter<R>(
  config: ReturnType<typeof loadConfig>,
  work: (write: TopicWriter) => Promise<R>,
): Promise<R> {
  if (config.KAFKA_BROKERS === undefined)
    throw new ConfigError(
      'KAFKA_BROKERS: not set; expected a comma-separated list of host:port, e.g. 127.0.0.1:9092',
    );
  const brokers = config.KAFKA_BROKERS;
  const transport = new KafkaTransport({
    brokers,
    clientId: `${config.APPLICATION_ID}-simulate`,
    logger: createLogger(config.LOG_LEVEL),
  });
  const serdeOptions: TopicSerdeOptions =
    config.SCHEMA_REGISTRY_URL === undefined ? {} : { registryUrl: config.SCHEMA_REGISTRY_URL };
  try {
    const producer = await transport.producer();
    const write: TopicWriter = async (topic, serdeOf, values, keyOf, timeOf) => {
      const partitions = await transport.partitionCount(topic);
      if (partitions === undefined)
        throw new ConfigError(
          `topic '${topic}' does not exist on ${brokers.join(',')}; create it with: veroai topics create`,
        );
      const serde = serdeOf(serdeOptions);
      await serde.prepare?.(topic);
      for (let i = 0; i < values.length; i += 5_000)
        await producer.send(
          values.slice(i, i + 5_000).map((value) => {
            const key = Buffer.from(keyOf(value));
            return {
              topic,
              partition: partitionForKey(key, partitions, () => 0),
              key,
              value: serde.serialize(value, topic),
              timestamp: timeOf(value),
            };
          }),
        );
      return values.length;
    };
    return await work(write);
  } finally {
    await transport.close();
  }
}

/** A day's start at 08:00 UTC, 2 h before the attack: the security scenarios' default. */
const securityStartOf = (now: number) => now - (now % 86_400_000) - 86_400_000 + 8 * 3_600_000;

/**
 * A security scenario: with the memory transport, through the SOC processors
 * in this process (a line per incident, then the label and what was found);
 * with TRANSPORT=kafka, its events written to raw_events for a running job.
 */
async function simulateSecurityScenario(
  config: ReturnType<typeof loadConfig>,
  name: SecurityScenarioName,
  seed: number,
  start: number | undefined,
): Promise<void> {
  const startTime = start ?? securityStartOf(Date.now());
  const scenario = SECURITY_SCENARIOS[name];
  const label = { scenario: name, description: scenario.description, attack: scenario.attack };
  if (config.TRANSPORT === 'memory') {
    const run = await simulateSecurity(name, { seed, startTime });
    for (const i of run.incidents)
      process.stdout.write(
        `${JSON.stringify({ incident_id: i.incidentId, kind: i.kind, entity: `${i.entityKind}/${i.entityId}`, tenant_id: i.tenantId, severity: i.severity, status: i.status, confidence: i.confidence, detected_at: new Date(i.detectedAt).toISOString(), remediation: i.remediation?.status ?? null, resolution: i.resolution, summary: i.summary })}\n`,
      );
    const found = run.incidents.map((i) => ({
      kind: i.kind,
      entity_key: entityKeyOf({ kind: i.entityKind, id: i.entityId, tenantId: i.tenantId }),
    }));
    process.stdout.write(
      `${JSON.stringify({ ...label, expected: run.traffic.expected.map((e) => ({ kind: e.kind, entity_key: e.entityKey })), found, events: run.eventsFed })}\n`,
    );
    return;
  }
  const traffic = securityTraffic(name, { seed, startTime });
  const written = await withKafkaWriter(config, (write) =>
    write(RAW_EVENTS_TOPIC, telemetryEventSerde, traffic.events, securityEventKey, (e) => e.timestamp),
  );
  process.stdout.write(`${JSON.stringify({ ...label, events: written, topics: [RAW_EVENTS_TOPIC] })}\n`);
}

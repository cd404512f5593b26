import { type Command, InvalidArgumentError } from 'commander';
import { CANARY_COMMANDS_TOPIC } from '../../processors/canary/canary-gate.js';
import { RAW_EVENTS_TOPIC } from '../../processors/telemetry/clean-telemetry.js';
import { canaryCommandSerde, type TelemetryEvent, telemetryEventSerde } from '../../schemas/index.js';
import { ConfigError, partitionForKey } from '../../topology/index.js';
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

interface SimulateOptions {
  scenario: CanaryScenarioName;
  seed: number;
  start: number;
  /** false with --no-closing */
  closing: boolean;
}

const scenarioOf = (name: string): CanaryScenarioName => {
  if (!(name in CANARY_SCENARIOS))
    throw new InvalidArgumentError(`expected one of: ${Object.keys(CANARY_SCENARIOS).join(', ')}`);
  return name as CanaryScenarioName;
};

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
      'labelled canary traffic for a scenario (identical, latency-regression, tail-regression, variance-regression, error-regression, sparse-errors, better-canary, low-traffic, noisy-baseline): with TRANSPORT=kafka written to raw_events and canary_commands at KAFKA_BROKERS; with the memory transport run through the canary gate in this process, printing each decision',
    )
    .requiredOption('--scenario <name>', `one of: ${Object.keys(CANARY_SCENARIOS).join(', ')}`, scenarioOf)
    .option('--seed <n>', 'the same seed gives the same requests', seedOf, 1)
    .option(
      '--start <time>',
      'event time of the first window (ISO 8601 or epoch ms); default: now minus the scenario',
      startOf,
    )
    .action(
      async (options: Partial<SimulateOptions> & Pick<SimulateOptions, 'scenario' | 'seed' | 'closing'>) => {
        const config = loadConfig();
        const scenario: CanaryScenario = CANARY_SCENARIOS[options.scenario];
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
  if (config.KAFKA_BROKERS === undefined)
    throw new ConfigError(
      'KAFKA_BROKERS: not set; expected a comma-separated list of host:port, e.g. 127.0.0.1:9092',
    );
  const transport = new KafkaTransport({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.APPLICATION_ID}-simulate`,
    logger: createLogger(config.LOG_LEVEL),
  });
  try {
    const partitions = async (topic: string) => {
      const count = await transport.partitionCount(topic);
      if (count === undefined)
        throw new ConfigError(
          `topic '${topic}' does not exist on ${config.KAFKA_BROKERS!.join(',')}; create it with: veroai topics create`,
        );
      return count;
    };
    const serdeOptions =
      config.SCHEMA_REGISTRY_URL === undefined ? {} : { registryUrl: config.SCHEMA_REGISTRY_URL };
    const eventSerde = telemetryEventSerde(serdeOptions);
    const commandSerde = canaryCommandSerde(serdeOptions);
    await eventSerde.prepare?.(RAW_EVENTS_TOPIC);
    await commandSerde.prepare?.(CANARY_COMMANDS_TOPIC);
    const [eventPartitions, commandPartitions] = [
      await partitions(RAW_EVENTS_TOPIC),
      await partitions(CANARY_COMMANDS_TOPIC),
    ];
    // the gate's windows all close: the last request comes a window plus the gate's grace after the last window
    const closeAfterMs = (config.CANARY_WINDOW_MS ?? 60_000) + (config.CANARY_WINDOW_GRACE_MS ?? 10_000) + 1;
    const traffic = scenarioTraffic(scenario, { seed, startTime: start, closeAfterMs });
    const producer = await transport.producer();
    const commandKey = Buffer.from(traffic.commandKey);
    await producer.send([
      {
        topic: CANARY_COMMANDS_TOPIC,
        partition: partitionForKey(commandKey, commandPartitions, () => 0),
        key: commandKey,
        value: commandSerde.serialize(traffic.start, CANARY_COMMANDS_TOPIC),
        timestamp: traffic.start.issuedAt,
      },
    ]);
    const record = (event: TelemetryEvent) => {
      const key = Buffer.from(scenarioEventKey(event));
      return {
        topic: RAW_EVENTS_TOPIC,
        partition: partitionForKey(key, eventPartitions, () => 0),
        key,
        value: eventSerde.serialize(event, RAW_EVENTS_TOPIC),
        timestamp: event.timestamp,
      };
    };
    const requests = run.closing ? [...traffic.events, ...traffic.closing] : traffic.events;
    for (let i = 0; i < requests.length; i += 5_000)
      await producer.send(requests.slice(i, i + 5_000).map(record));
    process.stdout.write(
      `${JSON.stringify({ ...label, rollout_id: traffic.start.rolloutId, events: requests.length, topics: [RAW_EVENTS_TOPIC, CANARY_COMMANDS_TOPIC] })}\n`,
    );
  } finally {
    await transport.close();
  }
}

/**
 * The canary gate on the real broker, as an operator drives it: `veroai
 * simulate --scenario latency-regression` (TRANSPORT=kafka) writes a
 * rollout's start to canary_commands and its labelled requests to
 * raw_events; the gate (clean telemetry → KPI windows → judge, decisions to a
 * real Redis; at_least_once, so that a group's progress through its internal
 * topics is its committed offsets, with no transaction markers after them)
 * runs over them. Its KPI windows are checked window by window against the same scenario run in process (counts and
 * sketch quantiles do not depend on the order partitions interleave), and
 * its verdict against the scenario's label, in Redis and on canary_decisions.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_SCENARIOS, scenarioEventKey, scenarioTraffic } from '../../cli/canary-scenarios.js';
import { simulateInProcess } from '../../cli/canary-simulation.js';
import { ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import {
  CANARY_COMMANDS_TOPIC,
  CANARY_DECISIONS_TOPIC,
  canaryGate,
} from '../../processors/canary/canary-gate.js';
import { KPI_WINDOWS_TOPIC } from '../../processors/canary/kpi-windows.js';
import { cleanTelemetry, RAW_EVENTS_TOPIC } from '../../processors/telemetry/clean-telemetry.js';
import {
  type CanaryDecision,
  canaryCommandSerde,
  canaryDecisionSerde,
  type KpiWindow,
  kpiWindowSerde,
  telemetryEventSerde,
} from '../../schemas/index.js';
import { RedisCanaryDecisions, type RedisClient } from '../../sinks/index.js';
import { StreamsApplication, TopologyBuilder } from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { eventually, produce, readTopic, startGroupAtEnd, untilCaughtUp } from '../support/kafka-io.js';
import { connectTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from '../support/redis.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PARTITIONS = 3;
const scenario = CANARY_SCENARIOS['latency-regression'];
const keyPrefix = uniqueKeyPrefix('canary-gate');
/**
 * Simulated traffic is written in seconds for twenty minutes of event time:
 * the upstream tasks' output reaches a KPI window's task minutes of event time
 * apart, as in any replay. A grace of 30 minutes keeps every request in its
 * window, as the one-partition run does; the requests that close the last
 * windows are written once the gate has caught up (`simulate --no-closing`).
 */
const GRACE_MS = 30 * 60_000;
// a seed and a start of this run only: its rollout id and windows are nobody else's on the shared topics
const seed = Date.now() % 1_000_000_000;
const START = Date.UTC(2026, 0, 1) + (seed % 100_000) * 3_600_000;

let brokers: string[];
let redis: RedisClient;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  brokers = await ensureKafka();
  redis = await connectTestRedis();
  const transport = new KafkaTransport({
    brokers,
    clientId: 'canary-it-setup',
    logger: pino({ level: 'warn' }),
  });
  try {
    await transport.ensureTopics(
      [RAW_EVENTS_TOPIC, CANARY_COMMANDS_TOPIC, KPI_WINDOWS_TOPIC, CANARY_DECISIONS_TOPIC].map((name) => ({
        name,
        partitions: PARTITIONS,
      })),
    );
  } finally {
    await transport.close();
  }
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await deleteKeysWithPrefix(redis, keyPrefix);
  await redis.quit();
});

function simulate(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'veroai.js'),
        'simulate',
        '--scenario',
        scenario.name,
        '--seed',
        String(seed),
        '--start',
        String(START),
      ],
      {
        env: {
          ...process.env,
          CANARY_WINDOW_GRACE_MS: String(GRACE_MS),
          TRANSPORT: 'kafka',
          KAFKA_BROKERS: brokers.join(','),
          LOG_LEVEL: 'error',
        },
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`simulate exited ${code}: ${err}`)),
    );
  });
}

describe('canary gate on Kafka', () => {
  it('latency-regression written by `veroai simulate`: the windows the in-process run closes, then rollback', async () => {
    const applicationId = uniqueName('canary-it');
    await startGroupAtEnd(brokers, applicationId, [RAW_EVENTS_TOPIC, CANARY_COMMANDS_TOPIC]);
    const printed = JSON.parse((await simulate()).trim().split('\n').pop()!) as {
      rollout_id: string;
      events: number;
    };
    const rolloutId = printed.rollout_id;

    const registry = new Registry();
    const decisions = new RedisCanaryDecisions({ redis, registry, keyPrefix });
    const builder = new TopologyBuilder();
    const events = cleanTelemetry(builder, { telemetrySerde: telemetryEventSerde() });
    canaryGate(builder, events, {
      serdes: { kpiWindow: kpiWindowSerde(), command: canaryCommandSerde(), decision: canaryDecisionSerde() },
      decisions,
      partitions: PARTITIONS,
      windowGraceMs: GRACE_MS,
    });
    const logger = pino({ level: 'warn' });
    const transport = new KafkaTransport({ brokers, clientId: applicationId, logger });
    const app = new StreamsApplication(builder.build(), {
      applicationId,
      transport,
      logger,
      metricsRegistry: registry,
    });
    closers.push(
      () => transport.close(),
      () => app.stop(),
    );
    await app.start();
    const internal = [
      `${applicationId}-events-by-user-repartition`,
      `${applicationId}-requests-by-build-repartition`,
      `${applicationId}-kpi-windows-by-service-repartition`,
    ];
    await untilCaughtUp(brokers, applicationId, [RAW_EVENTS_TOPIC, CANARY_COMMANDS_TOPIC, ...internal]);
    // only now the requests that close the last windows: written with the rest, one upstream task's would
    // reach a KPI window's task before another's requests of that window and close it early
    const closeAfterMs = 60_000 + GRACE_MS + 1;
    const { closing } = scenarioTraffic(scenario, { seed, startTime: START, closeAfterMs });
    const telemetry = telemetryEventSerde();
    await telemetry.prepare?.(RAW_EVENTS_TOPIC);
    await produce(
      brokers,
      RAW_EVENTS_TOPIC,
      closing.map((e) => ({
        key: scenarioEventKey(e),
        value: telemetry.serialize(e, RAW_EVENTS_TOPIC),
        timestamp: e.timestamp,
      })),
    );

    await eventually(
      async () => (await decisions.latest(rolloutId))?.verdict === 'rollback',
      'the rollback',
      180_000,
    ).catch(async (error: unknown) => {
      const latest = await decisions.latest(rolloutId);
      const metric = async (name: string) =>
        JSON.stringify((await registry.getSingleMetric(name)?.get())?.values.map((v) => [v.labels, v.value]));
      const consumed = `${await metric('veroai_late_records_total')} ${await metric('veroai_dlq_records_total')} ${await metric('veroai_records_produced_total')}`;
      throw new Error(
        `${(error as Error).message}; rollout ${rolloutId}, latest decision ${JSON.stringify(latest)?.slice(0, 300)}; metrics ${consumed}`,
      );
    });
    await untilCaughtUp(brokers, applicationId, [RAW_EVENTS_TOPIC, CANARY_COMMANDS_TOPIC, ...internal]);
    expect((await decisions.latest(rolloutId))?.status).toBe('rolled_back');

    // the oracle: the same scenario and seed through the gate in process
    const expected = await simulateInProcess(scenario, { seed, startTime: START, windowGraceMs: GRACE_MS });
    const kafkaWindows = (await readTopic(brokers, KPI_WINDOWS_TOPIC, { toEnd: true }))
      .filter((r) => r.key?.startsWith('acme/checkout/'))
      .map((r) => kpiWindowSerde().deserialize(r.value, KPI_WINDOWS_TOPIC) as KpiWindow)
      .filter((w) => w.windowStart >= START && w.windowStart < START + scenario.windows * 60_000);
    const summary = (w: KpiWindow) => ({
      track: w.track,
      version: w.version,
      windowStart: w.windowStart,
      requests: w.requests,
      errors: w.errors,
      latencyCount: w.latencyCount,
      p50: w.latencyP50Ms,
      p90: w.latencyP90Ms,
      p99: w.latencyP99Ms,
      samples: w.latencySamples.length,
    });
    const order = (a: ReturnType<typeof summary>, b: ReturnType<typeof summary>) =>
      a.windowStart - b.windowStart || a.track.localeCompare(b.track);
    const inProcess = expected.windows
      .filter((w) => w.track !== 'stable' && w.windowStart < START + scenario.windows * 60_000)
      .map(summary)
      .sort(order);
    expect(kafkaWindows.map(summary).sort(order)).toEqual(inProcess);
    expect(inProcess).toHaveLength(2 * scenario.windows);

    const onTopic = (await readTopic(brokers, CANARY_DECISIONS_TOPIC, { toEnd: true }))
      .filter((r) => r.key === rolloutId)
      .map((r) => canaryDecisionSerde().deserialize(r.value, CANARY_DECISIONS_TOPIC) as CanaryDecision);
    expect(onTopic[0]?.verdict).toBe('hold');
    expect(onTopic.at(-1)?.verdict).toBe('rollback');
    expect(onTopic.filter((d) => d.verdict !== 'hold')).toHaveLength(1);
    expect(onTopic.at(-1)).toEqual(await decisions.latest(rolloutId));
  }, 300_000);
});

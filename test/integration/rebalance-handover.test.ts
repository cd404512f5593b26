/**
 * Handing partitions over between instances, on the real broker:
 * - a member is told of a rebalance before it rejoins, while it still owns its
 *   partitions, and finishes and commits then: the member that takes a
 *   partition over starts exactly where the old owner stopped;
 * - under exactly_once, a task whose producer was fenced (it migrated) is
 *   closed and the member rejoins; the rest of the instance keeps running and
 *   the committed output stays exact.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import {
  type ProcessingGuarantee,
  Serdes,
  StreamsApplication,
  type TopicPartition,
  TopologyBuilder,
} from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { eventually, produce, readTopic, untilCaughtUp } from '../support/kafka-io.js';

let brokers: string[];
const transports: KafkaTransport[] = [];
const apps: StreamsApplication[] = [];

beforeAll(async () => {
  brokers = await ensureKafka();
});
afterAll(async () => {
  for (const app of apps) await app.stop().catch(() => undefined);
  for (const t of transports) await t.close().catch(() => undefined);
});

function transport(): KafkaTransport {
  const t = new KafkaTransport({ brokers, clientId: 'handover-test' });
  transports.push(t);
  return t;
}

const records = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 60}`, value: String(from + i) }));

async function startApp(
  input: string,
  output: string,
  applicationId: string,
  guarantee: ProcessingGuarantee,
): Promise<StreamsApplication> {
  const builder = new TopologyBuilder();
  builder
    .stream(input, { key: Serdes.string, value: Serdes.string })
    .mapValues((v) => `out-${v}`, { value: Serdes.string })
    .to(output);
  const app = new StreamsApplication(builder.build(), {
    applicationId,
    transport: transport(),
    processingGuarantee: guarantee,
    // no timed commits during the test: what a member commits, it commits at a rebalance or a stop
    commitIntervalMs: 600_000,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 15_000,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    metricsRegistry: new Registry(),
  });
  apps.push(app);
  await app.start();
  return app;
}

async function consumed(app: StreamsApplication): Promise<number> {
  const values = (await app.registry.getSingleMetric('veroai_records_consumed_total')?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

describe('handing partitions over', () => {
  it('the transport tells a member of a rebalance before it rejoins, before the new member is assigned', async () => {
    const topic = uniqueName('handover-t');
    await createTopic(brokers, topic, 6);
    const groupId = uniqueName('handover-group');
    const events: string[] = [];
    const listener = (name: string) => ({
      onAssigned: async (tps: readonly TopicPartition[]) => {
        events.push(`${name} assigned ${tps.length}`);
      },
      onRevoked: async (tps: readonly TopicPartition[]) => {
        events.push(`${name} revoked ${tps.length}`);
      },
      onRebalancing: async () => {
        events.push(`${name} rebalancing`);
        // the old owner's work before it rejoins: the new member must not be assigned meanwhile
        await new Promise((r) => setTimeout(r, 500));
        events.push(`${name} rebalancing done`);
      },
      onBatch: async () => undefined,
    });
    const a = transport().consumer({ groupId, topics: [topic], sessionTimeoutMs: 10_000 });
    await a.start(listener('a'));
    await eventually(() => events.includes('a assigned 6'), 'a to own the 6 partitions');
    const b = transport().consumer({ groupId, topics: [topic], sessionTimeoutMs: 10_000 });
    await b.start(listener('b'));
    await eventually(() => events.some((e) => e.startsWith('b assigned')), 'b to be assigned');
    await a.stop();
    await b.stop();
    const at = (e: string) => events.indexOf(e);
    expect(at('a rebalancing')).toBeGreaterThan(at('a assigned 6'));
    expect(at('a rebalancing done')).toBeGreaterThan(at('a rebalancing'));
    expect(at('a rebalancing done')).toBeLessThan(events.findIndex((e) => e.startsWith('b assigned')));
    expect(at('a rebalancing done')).toBeLessThan(events.findIndex((e) => e.startsWith('a revoked')));
  }, 120_000);

  it('at_least_once: the member taking partitions over starts where the old owner stopped (no record twice)', async () => {
    const input = uniqueName('handover-in');
    const output = uniqueName('handover-out');
    await createTopic(brokers, input, 6);
    await createTopic(brokers, output, 6);
    const applicationId = uniqueName('handover-alos');
    await produce(brokers, input, records(0, 3_000));
    const a = await startApp(input, output, applicationId, 'at_least_once');
    await eventually(async () => (await consumed(a)) >= 3_000, 'a to process the first input', 60_000);
    const b = await startApp(input, output, applicationId, 'at_least_once');
    await eventually(
      async () => a.activeTasks().size > 0 && b.activeTasks().size > 0 && a.activeTasks().size < 6,
      'the partitions to be shared',
      60_000,
    );
    await produce(brokers, input, records(3_000, 3_000));
    await eventually(
      async () => (await consumed(a)) + (await consumed(b)) >= 6_000,
      'both to process the rest',
      60_000,
    );
    await a.stop();
    await b.stop();
    await untilCaughtUp(brokers, applicationId, [input], 30_000);
    const out = (await readTopic(brokers, output, { toEnd: true })).map((r) => r.value!.toString());
    const counts = new Map<string, number>();
    for (const v of out) counts.set(v, (counts.get(v) ?? 0) + 1);
    const repeated = [...counts].filter(([, n]) => n > 1).length;
    expect({ distinct: counts.size, repeated }).toEqual({ distinct: 6_000, repeated: 0 });
  }, 180_000);

  it('exactly_once: a fenced task is closed and rejoined; the instance keeps running and the output stays exact', async () => {
    const input = uniqueName('fence-in');
    const output = uniqueName('fence-out');
    await createTopic(brokers, input, 3);
    await createTopic(brokers, output, 3);
    const applicationId = uniqueName('fence-eos');
    await produce(
      brokers,
      input,
      records(0, 600).map((r, i) => ({ ...r, partition: i % 3 })),
    );
    const app = await startApp(input, output, applicationId, 'exactly_once');
    await untilCaughtUp(brokers, applicationId, [input], 60_000);
    // another producer with task 0_1's transactional id: the task's own producer is fenced
    const intruder = await transport().transactionalProducer(`${applicationId}-0_1`);
    await intruder.close();
    await produce(
      brokers,
      input,
      records(600, 600).map((r, i) => ({ ...r, partition: i % 3 })),
    );
    await untilCaughtUp(brokers, applicationId, [input], 90_000);
    expect(app.state).toBe('running');
    expect([...app.activeTasks().keys()].sort()).toEqual(['0_0', '0_1', '0_2']);
    const out = (await readTopic(brokers, output, { toEnd: true })).map((r) => r.value!.toString()).sort();
    expect(out).toEqual(Array.from({ length: 1_200 }, (_, i) => `out-${i}`).sort());
  }, 180_000);
});

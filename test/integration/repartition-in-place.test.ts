/**
 * A repartition in place on the real broker: 150k clicks of 3,000 users, two
 * thirds keyed by user (they stay in their task) and a third keyed by a click
 * id (most cross the repartition topic to another task), counted per user
 * session and emitted once each session closes. Every final session is
 * checked against an oracle that sessionises each user's clicks alone, and
 * the repartition topic holds exactly the clicks whose key sent them to
 * another partition.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import {
  partitionForKey,
  Serdes,
  SessionWindows,
  StreamsApplication,
  Suppressed,
  TopologyBuilder,
  windowedSerde,
} from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { endOffsets, produce, readTopic, untilCaughtUp } from '../support/kafka-io.js';

interface Click {
  readonly user: string;
  readonly t: number;
}

const CLICKS = 150_000;
const USERS = 3_000;
const PARTITIONS = 3;
const GAP = 60_000;
/** Longer than the input's span of event time: no click is late, whatever the order the two ways deliver. */
const GRACE = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const clicks = Serdes.json<Click>();
const windowedKeys = windowedSerde(Serdes.string);
const partitionOf = (key: string) => partitionForKey(Buffer.from(key), PARTITIONS, () => 0);

let brokers: string[];

beforeAll(async () => {
  brokers = await ensureKafka();
});

/** Seeded: users' clicks 1–120 s apart in event time, so each user has several sessions. */
function input(): Array<{ key: string; click: Click }> {
  let seed = 42;
  const next = () => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  return Array.from({ length: CLICKS }, (_, i) => {
    const click = { user: `user-${Math.floor(next() * USERS)}`, t: T0 + i * 20 };
    return { key: i % 3 === 2 ? `click-${i}` : click.user, click };
  });
}

/** Each user's sessions, from their clicks alone: `user|start|end` → clicks. */
function oracle(clicksInOrder: readonly Click[]): Map<string, number> {
  const byUser = new Map<string, number[]>();
  for (const c of clicksInOrder) {
    const times = byUser.get(c.user) ?? [];
    times.push(c.t);
    byUser.set(c.user, times);
  }
  const sessions = new Map<string, number>();
  for (const [user, times] of byUser) {
    let start = times[0]!;
    let end = start;
    let count = 0;
    for (const t of times) {
      if (t - end > GAP) {
        sessions.set(`${user}|${start}|${end}`, count);
        start = t;
        count = 0;
      }
      end = t;
      count += 1;
    }
    sessions.set(`${user}|${start}|${end}`, count);
  }
  return sessions;
}

describe('repartition in place on a real broker', () => {
  it(`keeps the clicks keyed by user in their task, sends the others across, and closes the oracle's sessions (${CLICKS} clicks)`, async () => {
    const inputTopic = uniqueName('in-place-clicks');
    const outputTopic = uniqueName('in-place-sessions');
    await createTopic(brokers, inputTopic, PARTITIONS);
    await createTopic(brokers, outputTopic, PARTITIONS);
    const records = input();
    // a click per partition past every session's end + gap + grace, keyed to stay in its task: it closes them all
    const closers = Array.from({ length: PARTITIONS }, (_, p) => {
      let n = 0;
      while (partitionOf(`closer-${n}`) !== p) n += 1;
      return { key: `closer-${n}`, click: { user: `closer-${n}`, t: T0 + CLICKS * 20 + 2 * GRACE } };
    });
    const write = async (batch: ReadonlyArray<{ key: string; click: Click }>) => {
      for (let from = 0; from < batch.length; from += 5_000) {
        await produce(
          brokers,
          inputTopic,
          batch.slice(from, from + 5_000).map(({ key, click }) => ({ key, value: JSON.stringify(click) })),
        );
      }
    };
    await write(records);

    const builder = new TopologyBuilder();
    builder
      .stream(inputTopic, { key: Serdes.string, value: clicks, timestamp: (r) => (r.value as Click).t })
      .selectKey((click) => click.user, { name: 'key-by-user', key: Serdes.string })
      .repartition({ name: 'by-user', inPlace: true })
      .groupByKey()
      .windowedBy(SessionWindows.ofInactivityGapAndGrace(GAP, GRACE))
      .count({ name: 'clicks-per-session' })
      .suppress(Suppressed.untilWindowCloses(), { name: 'final-sessions' })
      .toStream()
      .to(outputTopic);
    const transport = new KafkaTransport({ brokers, clientId: 'in-place-test' });
    const applicationId = uniqueName('in-place-app');
    const repartitionTopic = `${applicationId}-by-user-repartition`;
    const registry = new Registry();
    const app = new StreamsApplication(builder.build(), {
      applicationId,
      transport,
      commitIntervalMs: 200,
      defaultStoreType: 'memory',
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      metricsRegistry: registry,
    });
    // the input committed to its end: everything it sent across is written; then the clicks that crossed
    const caughtUp = async () => {
      await untilCaughtUp(brokers, applicationId, [inputTopic], 300_000);
      await untilCaughtUp(brokers, applicationId, [inputTopic, repartitionTopic], 120_000);
    };
    await app.start();
    try {
      await caughtUp();
      // only then the closers: a closer ahead of clicks still crossing would make them late
      await write(closers);
      await caughtUp();
    } finally {
      await app.stop();
      await transport.close();
    }

    const crossed = records.filter(({ key, click }) => partitionOf(key) !== partitionOf(click.user));
    expect(crossed.length).toBeGreaterThan(CLICKS / 5);
    expect((await endOffsets(brokers, repartitionTopic)).reduce((a, b) => a + b, 0)).toBe(crossed.length);
    // what an SRE reads: the sink's records in, and those it kept in place (every closer stays)
    const sinkRecords = async (direction: string) =>
      (await registry.getSingleMetric('veroai_node_records_total')!.get()).values.find(
        (v) => v.labels.node === 'by-user-repartition-sink' && v.labels.direction === direction,
      )?.value;
    expect(await sinkRecords('in')).toBe(records.length + closers.length);
    expect(await sinkRecords('kept')).toBe(records.length - crossed.length + closers.length);

    const expected = oracle(records.map((r) => r.click));
    const actual = new Map<string, number>();
    let duplicates = 0;
    for (const r of await readTopic(brokers, outputTopic, { toEnd: true })) {
      const { key, window } = await windowedKeys.deserialize(r.rawKey, outputTopic);
      if (key === null || key.startsWith('closer-')) continue;
      const id = `${key}|${window.start}|${window.end}`;
      if (actual.has(id)) duplicates += 1;
      actual.set(id, Number(r.value!.toString('utf8')));
    }
    const wrong = [...expected].filter(([id, count]) => actual.get(id) !== count);
    const extra = [...actual.keys()].filter((id) => !expected.has(id));
    expect({ sessions: actual.size, wrong: wrong.slice(0, 5), extra: extra.slice(0, 5), duplicates }).toEqual(
      {
        sessions: expected.size,
        wrong: [],
        extra: [],
        duplicates: 0,
      },
    );
  }, 600_000);
});

/**
 * Every window type on a real broker: one windowed count per type, run by
 * StreamsApplication on the kafka transport over a scripted sequence with
 * out-of-order records, late records and (for sessions) merges. Each topology
 * writes its update stream (tombstones included) and its final results after
 * suppress(untilWindowCloses); both, and the late topic, are compared with
 * results worked out by hand. The input has one partition, so one task sees
 * the script in order and stream time moves exactly as written.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import {
  DLQ_HEADERS,
  lateRecordsTopic,
  Serdes,
  SessionWindows,
  SlidingWindows,
  StreamsApplication,
  Suppressed,
  TimeWindows,
  TopologyBuilder,
  windowedSerde,
} from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { produce, type ReadRecord, readTopic } from '../support/kafka-io.js';

/** Event times are this plus the script's offsets: recent (kept by retention), a whole minute (windows align to the epoch). */
const BASE = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
const windowedKeys = windowedSerde(Serdes.string);

/** key, window start and end relative to BASE, count (null: a retracted session) */
type Row = [string, number, number, number | null];
/** A script line: key and event time relative to BASE. */
type Line = [string, number];

let brokers: string[];
const running: Array<{ app: StreamsApplication; transport: KafkaTransport }> = [];

beforeAll(async () => {
  brokers = await ensureKafka();
});

afterAll(async () => {
  for (const { app, transport } of running.splice(0)) {
    await app.stop().catch(() => undefined);
    await transport.close();
  }
});

interface Expected {
  readonly updates: Row[];
  readonly finals: Row[];
  /** The late records (as `key@offset`) and a window each one's reason names. */
  readonly late: Array<[string, string]>;
}

/**
 * Stops the application after the first `lines` of the script, once it has
 * written `updates` updates, and starts a new instance (same application id,
 * empty local state) for the rest: the result must be the same as without the
 * restart, the window store and the suppress buffer restored from their changelogs.
 */
interface Restart {
  readonly lines: number;
  readonly updates: number;
}

/** Runs `windows` as a count over `script` on the broker and compares all three outputs with `expected`. */
async function runScript(
  kind: string,
  windows: TimeWindows | SlidingWindows | SessionWindows,
  script: readonly Line[],
  expected: Expected,
  restart?: Restart,
): Promise<void> {
  const input = uniqueName(`${kind}-events`);
  const updatesTopic = uniqueName(`${kind}-updates`);
  const finalsTopic = uniqueName(`${kind}-finals`);
  for (const topic of [input, updatesTopic, finalsTopic]) await createTopic(brokers, topic, 1);
  const applicationId = uniqueName(`windows-${kind}`);

  const builder = new TopologyBuilder();
  const grouped = builder.stream(input, { key: Serdes.string, value: Serdes.string }).groupByKey();
  const counts =
    windows.kind === 'session'
      ? grouped.windowedBy(windows).count({ name: `${kind}-counts` })
      : grouped.windowedBy(windows).count({ name: `${kind}-counts` });
  counts.toStream().to(updatesTopic);
  counts
    .suppress(Suppressed.untilWindowCloses(), { name: `${kind}-final-counts` })
    .toStream()
    .to(finalsTopic);
  const topology = builder.build();

  const registries: Registry[] = [];
  const start = async () => {
    const transport = new KafkaTransport({ brokers, clientId: applicationId });
    const registry = new Registry();
    registries.push(registry);
    const app = new StreamsApplication(topology, {
      applicationId,
      transport,
      commitIntervalMs: 200,
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      metricsRegistry: registry,
    });
    running.push({ app, transport });
    await app.start();
    return async () => {
      running.splice(
        running.findIndex((r) => r.app === app),
        1,
      );
      await app.stop();
      await transport.close();
    };
  };
  const send = (lines: readonly Line[]) =>
    produce(
      brokers,
      input,
      lines.map(([key, at]) => ({ key, value: `${key}@${at}`, timestamp: BASE + at })),
    );

  let stop: () => Promise<void>;
  if (restart === undefined) {
    await send(script);
    stop = await start();
  } else {
    await send(script.slice(0, restart.lines));
    const stopFirst = await start();
    await readTopic(brokers, updatesTopic, { atLeast: restart.updates });
    await stopFirst();
    await send(script.slice(restart.lines));
    stop = await start();
  }

  const updates = await readTopic(brokers, updatesTopic, { atLeast: expected.updates.length });
  expect(await rows(updates, updatesTopic)).toEqual(expected.updates);
  const finals = await readTopic(brokers, finalsTopic, { atLeast: expected.finals.length });
  expect(await rows(finals, finalsTopic)).toEqual(expected.finals);
  // a final result carries its window's end as its timestamp
  expect(finals.map((r) => r.timestamp - BASE)).toEqual(expected.finals.map(([, , end]) => end));

  const late = await readTopic(brokers, lateRecordsTopic(applicationId), { atLeast: expected.late.length });
  expect(late.map((r) => r.value?.toString()).sort()).toEqual(expected.late.map(([value]) => value).sort());
  for (const [value, window] of expected.late) {
    const record = late.find((r) => r.value?.toString() === value)!;
    expect(record.headers[DLQ_HEADERS.errorClass]).toBe('LateRecordError');
    expect(record.headers[DLQ_HEADERS.topic]).toBe(input);
    expect(record.headers[DLQ_HEADERS.errorMessage], value).toContain(window);
  }
  let lateCount = 0;
  for (const registry of registries)
    for (const v of (await registry.getSingleMetric('veroai_late_records_total')?.get())?.values ?? [])
      lateCount += v.value;
  expect(lateCount).toBe(expected.late.length);
  await stop();
}

async function rows(records: readonly ReadRecord[], topic: string): Promise<Row[]> {
  const out: Row[] = [];
  for (const r of [...records].sort((a, b) => a.offset - b.offset)) {
    const { key, window } = await windowedKeys.deserialize(r.rawKey, topic);
    out.push([
      key!,
      window.start - BASE,
      window.end - BASE,
      r.value === null ? null : Number(r.value.toString()),
    ]);
  }
  return out;
}

/** A window as the late reason prints it, in absolute event time. */
const halfOpen = (start: number, end: number) => `[${BASE + start}, ${BASE + end})`;
const closed = (start: number, end: number) => `[${BASE + start}, ${BASE + end}]`;

describe('windows on a real Kafka broker', () => {
  it('tumbling: out-of-order within grace counts, a record after end + grace is late, suppress emits each window once', async () => {
    await runScript(
      'tumbling',
      TimeWindows.ofSizeAndGrace(10_000, 5_000),
      [
        ['a', 1_000],
        ['a', 4_000],
        ['b', 6_000],
        ['a', 12_000],
        ['a', 3_000], // stream time 12 000: [0, 10 000) is open until 15 000
        ['b', 17_000], // closes [0, 10 000) for every key
        ['a', 2_000], // late
        ['a', 19_000],
        ['z', 60_000], // moves stream time past every window above
      ],
      {
        updates: [
          ['a', 0, 10_000, 1],
          ['a', 0, 10_000, 2],
          ['b', 0, 10_000, 1],
          ['a', 10_000, 20_000, 1],
          ['a', 0, 10_000, 3],
          ['b', 10_000, 20_000, 1],
          ['a', 10_000, 20_000, 2],
          ['z', 60_000, 70_000, 1],
        ],
        finals: [
          ['a', 0, 10_000, 3],
          ['b', 0, 10_000, 1],
          ['a', 10_000, 20_000, 2],
          ['b', 10_000, 20_000, 1],
        ],
        late: [['a@2000', halfOpen(0, 10_000)]],
      },
    );
  }, 120_000);

  it('hopping: a record counts in every open window covering it and is late for the closed one', async () => {
    await runScript(
      'hopping',
      TimeWindows.ofSizeAndGrace(10_000, 2_000).advanceBy(5_000),
      [
        ['a', 7_000],
        ['a', 11_000],
        ['a', 9_000], // stream time 11 000: [0, 10 000) open until 12 000
        ['a', 13_000],
        ['a', 8_000], // [0, 10 000) closed at 12 000, [5 000, 15 000) still open
        ['a', 1_000], // only in [0, 10 000): late
        ['z', 60_000],
      ],
      {
        updates: [
          ['a', 0, 10_000, 1],
          ['a', 5_000, 15_000, 1],
          ['a', 5_000, 15_000, 2],
          ['a', 10_000, 20_000, 1],
          ['a', 0, 10_000, 2],
          ['a', 5_000, 15_000, 3],
          ['a', 5_000, 15_000, 4],
          ['a', 10_000, 20_000, 2],
          ['a', 5_000, 15_000, 5],
          ['z', 55_000, 65_000, 1],
          ['z', 60_000, 70_000, 1],
        ],
        finals: [
          ['a', 0, 10_000, 2],
          ['a', 5_000, 15_000, 5],
          ['a', 10_000, 20_000, 2],
        ],
        late: [
          ['a@8000', halfOpen(0, 10_000)],
          ['a@1000', halfOpen(0, 10_000)],
        ],
      },
    );
  }, 120_000);

  it('sliding: windows where the records are, an out-of-order record splitting them, late records, across a restart', async () => {
    await runScript(
      'sliding',
      SlidingWindows.ofTimeDifferenceAndGrace(5_000, 2_000),
      [
        ['a', 10_000],
        ['a', 12_000],
        ['a', 11_000], // out of order within grace
        ['a', 25_000],
        ['a', 21_000], // its left window [16 000, 21 000] closed at 23 000; [20 000, 25 000] is open
        ['a', 14_000], // even its right window [14 001, 19 001] closed: late
        ['z', 60_000],
      ],
      {
        updates: [
          ['a', 5_000, 10_000, 1],
          ['a', 10_001, 15_001, 1],
          ['a', 7_000, 12_000, 2],
          ['a', 10_001, 15_001, 2],
          ['a', 7_000, 12_000, 3],
          ['a', 6_000, 11_000, 2],
          ['a', 11_001, 16_001, 1],
          ['a', 20_000, 25_000, 1],
          ['a', 20_000, 25_000, 2],
          ['a', 21_001, 26_001, 1],
          ['z', 55_000, 60_000, 1],
        ],
        // in closing order: end + grace, ends inclusive
        finals: [
          ['a', 5_000, 10_000, 1],
          ['a', 6_000, 11_000, 2],
          ['a', 7_000, 12_000, 3],
          ['a', 10_001, 15_001, 2],
          ['a', 11_001, 16_001, 1],
          ['a', 20_000, 25_000, 2],
          ['a', 21_001, 26_001, 1],
        ],
        late: [
          ['a@21000', closed(16_000, 21_000)],
          ['a@14000', closed(9_000, 14_000)],
        ],
      },
      // before the out-of-order 11 000, which needs the restored windows and their latest record times
      // (its right window exists only because [7 000, 12 000] holds a record after it)
      { lines: 2, updates: 3 },
    );
  }, 120_000);

  it('session: merges retract the merged sessions with tombstones; late records cannot open or extend a closed session', async () => {
    await runScript(
      'session',
      // a session closes once stream time is past its end + gap + grace (Kafka Streams): 15 s after its end
      SessionWindows.ofInactivityGapAndGrace(10_000, 5_000),
      [
        ['u', 0],
        ['u', 5_000], // extends [0, 0]
        ['u', 20_000], // 15 s after 5 000: a new session; [0, 5 000] is open until stream time passes 20 000
        ['u', 12_000], // within the gap of both: merges them
        ['v', 3_000], // a session [3 000, 3 000] would close at 18 000 < stream time 20 000: late
        ['u', 36_001],
        // would extend [0, 20 000] to [0, 21 000], closed at 36 000 < 36 001: late
        // ([0, 20 000] is still stored: retention gap + grace keeps it until stream time passes 35 000 + a sweep)
        ['u', 21_000],
        ['z', 90_000],
      ],
      {
        updates: [
          ['u', 0, 0, 1],
          ['u', 0, 0, null],
          ['u', 0, 5_000, 2],
          ['u', 20_000, 20_000, 1],
          ['u', 0, 5_000, null],
          ['u', 20_000, 20_000, null],
          ['u', 0, 20_000, 4],
          ['u', 36_001, 36_001, 1],
          ['z', 90_000, 90_000, 1],
        ],
        // merged-away sessions are never final
        finals: [
          ['u', 0, 20_000, 4],
          ['u', 36_001, 36_001, 1],
        ],
        late: [
          ['v@3000', closed(3_000, 3_000)],
          ['u@21000', closed(0, 21_000)],
        ],
      },
    );
  }, 120_000);
});

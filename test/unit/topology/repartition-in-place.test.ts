/**
 * A repartition in place (RepartitionOptions.inPlace): a record the
 * partitioner puts in the partition it was read from stays in its task; the
 * others cross the topic. What the state after it computes must be what the
 * same topology computes when every record crosses: compared here, window by
 * window, on sessions with suppression, out-of-order input and invalid
 * events far ahead in time (which must not move the stream time of the state
 * they never reach).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../processors/seeded-random.js';
import {
  type ProcessorSupplier,
  partitionForKey,
  Serdes,
  SessionWindows,
  Suppressed,
  TopologyBuilder,
  TopologyError,
  type Windowed,
} from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

interface Click {
  readonly user: string;
  readonly t: number;
  readonly valid: boolean;
}

const PARTITIONS = 3;
const GAP = 10 * 60_000;
const APP = 'in-place';
const REPARTITION_TOPIC = `${APP}-by-user-repartition`;

/**
 * Valid clicks, re-keyed by user, counted per session (gap 10 min, grace 0),
 * finals only. `seen` collects the values the step before the repartition
 * forwards, `after` says whether the step after it got those very objects.
 */
function sessionsByUser(
  inPlace: boolean,
  shareValues = false,
  identity?: { seen: WeakSet<object>; after: boolean[] },
) {
  const builder = new TopologyBuilder();
  builder
    .stream('clicks', {
      key: Serdes.string,
      value: Serdes.json<Click>(),
      timestamp: (r) => (r.value as Click).t,
    })
    .filter((click) => click.valid, { name: 'valid-clicks' })
    .selectKey((click) => click.user, { name: 'key-by-user', key: Serdes.string })
    .peek((click) => identity?.seen.add(click), { name: 'before' })
    .repartition({ name: 'by-user', inPlace, shareValues })
    .peek((click) => identity?.after.push(identity.seen.has(click)), { name: 'after' })
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(GAP, 0))
    .count({ name: 'clicks-per-session' })
    .suppress(Suppressed.untilWindowCloses(), { name: 'final-sessions' })
    .toStream()
    .to('sessions');
  return builder.build();
}

let drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers) await d.close();
  drivers = [];
});

async function start(inPlace: boolean, shareValues = false): Promise<TestDriver> {
  const driver = await TestDriver.create(sessionsByUser(inPlace, shareValues), {
    applicationId: APP,
    defaultPartitions: PARTITIONS,
  });
  drivers.push(driver);
  return driver;
}

type Final = [user: string, start: number, end: number, count: number | null, partition: number];
const finals = (driver: TestDriver): Final[] =>
  driver
    .readOutput<Windowed<string>, number | null>('sessions')
    .map((r) => [r.key.key, r.key.window.start, r.key.window.end, r.value, r.partition]);

const partitionOf = (key: string) => partitionForKey(Buffer.from(key), PARTITIONS, () => 0);

/**
 * Seeded clicks of 40 users over ~3 hours: sessions that close and reopen,
 * 10 % of the clicks up to 15 minutes out of order (later than grace 0 allows
 * when the user's session closed meanwhile), and 1 % invalid with a time
 * a day ahead.
 */
function clicks(count: number, seed: number): Click[] {
  const next = seededRandom(seed);
  let clock = 1_767_225_600_000;
  return Array.from({ length: count }, () => {
    clock += Math.floor(next() * 20_000);
    const user = `user-${Math.floor(next() * 40)}`;
    if (next() < 0.01) return { user, t: clock + 86_400_000, valid: false };
    const t = next() < 0.1 ? clock - Math.floor(next() * 15 * 60_000) : clock;
    return { user, t, valid: true };
  });
}

/**
 * The clicks keyed by user, 50 a call to each driver: a task's batch holds
 * many users, out of order, and the invalid events.
 */
async function pipeInBatches(input: readonly Click[], drivers: readonly TestDriver[]): Promise<void> {
  for (let i = 0; i < input.length; i += 50) {
    const batch = input
      .slice(i, i + 50)
      .map((click) => ({ key: click.user, value: click, timestamp: click.t }));
    for (const driver of drivers) await driver.pipeInputs('clicks', batch);
  }
}

describe('repartition in place', () => {
  it('keeps every record of input keyed by user in its task and closes the sessions the crossing topology closes, batch by batch', async () => {
    const input = clicks(2_000, 7);
    const [crossing, inPlace] = [await start(false), await start(true)];
    await pipeInBatches(input, [crossing, inPlace]);
    // (a driver's reads move on: each output is read once)
    const expected = finals(crossing);
    const late = (driver: TestDriver) => driver.readLateRecords().map((r) => r.value?.toString());
    const expectedLate = late(crossing);
    // the input makes sessions, closes most of them, and has records too late for theirs
    expect(expected.length).toBeGreaterThan(150);
    expect(expectedLate.length).toBeGreaterThan(10);
    expect(finals(inPlace)).toEqual(expected);
    // the same clicks late (in place, the late record is the input record: the click as it came)
    expect(late(inPlace)).toEqual(expectedLate);
    // the crossing topology sent every valid click through the topic; in place, none crossed
    const valid = input.filter((c) => c.valid).length;
    expect(crossing.readRaw(REPARTITION_TOPIC)).toHaveLength(valid);
    expect(inPlace.readRaw(REPARTITION_TOPIC)).toHaveLength(0);
  });

  it('sends the records keyed elsewhere across the topic, and the state sees both ways as one stream', async () => {
    const input = clicks(1_500, 11);
    const [crossing, inPlace] = [await start(false), await start(true)];
    // a third of the clicks keyed by a session id instead of the user: most land in another partition
    const keyOf = (click: Click, i: number) => (i % 3 === 0 ? `session-${i}` : click.user);
    for (const [i, click] of input.entries()) {
      await crossing.pipeInput('clicks', keyOf(click, i), click, click.t);
      await inPlace.pipeInput('clicks', keyOf(click, i), click, click.t);
    }
    expect(finals(inPlace)).toEqual(finals(crossing));
    const crossed = input.filter((c, i) => c.valid && partitionOf(keyOf(c, i)) !== partitionOf(c.user));
    expect(crossed.length).toBeGreaterThan(100);
    const byPartition = (rows: Array<[string, number, number]>) => rows.sort((a, b) => a[2] - b[2]);
    expect(
      byPartition(
        inPlace
          .readOutput<string, Click>(REPARTITION_TOPIC)
          .map((r): [string, number, number] => [r.key, r.value.t, r.partition]),
      ),
    ).toEqual(byPartition(crossed.map((c): [string, number, number] => [c.user, c.t, partitionOf(c.user)])));
  });

  it('hands kept values on as they are with shareValues (the same objects, no bytes), and closes the same sessions', async () => {
    const input = clicks(1_000, 5);
    const [crossing, shared] = [await start(false), await start(true, true)];
    await pipeInBatches(input, [crossing, shared]);
    expect(finals(shared)).toEqual(finals(crossing));
    // without shareValues a kept record's value is read back from its bytes: a copy
    for (const share of [true, false]) {
      const identity = { seen: new WeakSet<object>(), after: [] as boolean[] };
      const driver = await TestDriver.create(sessionsByUser(true, share, identity), {
        applicationId: APP,
        defaultPartitions: PARTITIONS,
      });
      drivers.push(driver);
      await driver.pipeInputs(
        'clicks',
        input.slice(0, 200).map((click) => ({ key: click.user, value: click, timestamp: click.t })),
      );
      expect(identity.after.length).toBeGreaterThan(150);
      expect(new Set(identity.after)).toEqual(new Set([share]));
    }
    expect(() =>
      new TopologyBuilder()
        .stream('clicks', { key: Serdes.string, value: Serdes.json<Click>() })
        .repartition({ name: 'by-user', shareValues: true }),
    ).toThrow(/shareValues applies to the records a repartition in place keeps/);
  });

  it("passes on at once what a punctuator before the repartition forwards outside a batch's first pass", async () => {
    // every task ticks on wall-clock time; a tick is keyed 'tick': one task keeps its own, the others send theirs across
    const ticker: ProcessorSupplier<string | null, Click, string, Click> = (context) => {
      context.schedule(1_000, 'wall-clock', (now) =>
        context.forward({
          topic: '',
          partition: 0,
          offset: -1,
          key: 'tick',
          value: { user: 'tick', t: now, valid: true },
          timestamp: now,
          headers: {},
        }),
      );
      return { process: (record) => context.forward(record) };
    };
    const ticks = async (inPlace: boolean) => {
      const builder = new TopologyBuilder();
      builder
        .stream('clicks', { key: Serdes.string, value: Serdes.json<Click>() })
        .process(ticker, { name: 'ticker', keyPreserving: true, value: Serdes.json<Click>() })
        .selectKey((click) => click.user, { name: 'key-by-user', key: Serdes.string })
        .repartition({ name: 'by-user', inPlace })
        .groupByKey()
        .count({ name: 'per-user' })
        .toStream()
        .to('counts', { value: Serdes.number });
      const driver = await TestDriver.create(builder.build(), {
        applicationId: APP,
        defaultPartitions: PARTITIONS,
        startTime: 10_000,
      });
      drivers.push(driver);
      await driver.advanceTime(1_500);
      const counts = driver.readOutput<string, number>('counts').filter((r) => r.key === 'tick');
      return { last: counts.at(-1)?.value, crossed: driver.readRaw(REPARTITION_TOPIC).length };
    };
    expect(await ticks(false)).toEqual({ last: PARTITIONS, crossed: PARTITIONS });
    expect(await ticks(true)).toEqual({ last: PARTITIONS, crossed: PARTITIONS - 1 });
  });

  it('runs the steps before and after the topic as one sub-topology', () => {
    const crossing = sessionsByUser(false);
    const inPlace = sessionsByUser(true);
    expect(crossing.subTopologies).toHaveLength(2);
    expect(inPlace.subTopologies).toHaveLength(1);
    expect(inPlace.subTopologies[0]!.sources.map((s) => s.name)).toEqual([
      'KSTREAM-SOURCE-0000000000',
      'by-user-repartition-source',
    ]);
  });

  it('accepts state fed by another source of the sub-topology: a table joined after the repartition', async () => {
    const builder = new TopologyBuilder();
    const plans = builder.table('plans', { key: Serdes.string, value: Serdes.string });
    builder
      .stream('clicks', { key: Serdes.string, value: Serdes.json<Click>() })
      .selectKey((click) => click.user, { name: 'key-by-user', key: Serdes.string })
      .repartition({ name: 'by-user', inPlace: true })
      .join(plans, (click, plan) => `${click.user}:${plan}`, { value: Serdes.string })
      .to('out');
    const topology = builder.build();
    expect(topology.subTopologies).toHaveLength(1);
    // only the clicks run in two passes; the table's records go straight to its store
    const [sub] = topology.subTopologies;
    const clicks = sub!.sources.find((s) => s.topics.some((t) => t.name === 'clicks'))!;
    expect([...sub!.twoPassSources]).toEqual([clicks.name]);
    const driver = await TestDriver.create(topology, { applicationId: APP, defaultPartitions: PARTITIONS });
    drivers.push(driver);
    await driver.pipeInput('plans', 'user-1', 'pro', 1_000);
    await driver.pipeInput('clicks', 'user-1', { user: 'user-1', t: 2_000, valid: true }, 2_000);
    expect(driver.readOutput<string, string>('out').map((r) => r.value)).toEqual(['user-1:pro']);
  });

  it('refuses a stateful step before the repartition, and a partition count other than its tasks', async () => {
    const stateful = new TopologyBuilder();
    stateful
      .stream('clicks', { key: Serdes.string, value: Serdes.json<Click>() })
      .groupByKey()
      .count({ name: 'per-raw-key' })
      .toStream()
      .selectKey((n) => String(n), { name: 'rekey', key: Serdes.string })
      .repartition({ name: 'by-count', inPlace: true })
      .to('out', { value: Serdes.number });
    expect(() => stateful.build()).toThrow(TopologyError);
    expect(() => stateful.build()).toThrow(
      /'per-raw-key' keeps state .* the steps fed by that source before the repartition must keep no state/,
    );

    const fixed = new TopologyBuilder();
    fixed
      .stream('clicks', { key: Serdes.string, value: Serdes.json<Click>() })
      .selectKey((click) => click.user, { name: 'key-by-user', key: Serdes.string })
      .repartition({ name: 'by-user', inPlace: true, partitions: 6 })
      .to('out');
    await expect(
      TestDriver.create(fixed.build(), { applicationId: APP, defaultPartitions: PARTITIONS }),
    ).rejects.toThrow(/'in-place-by-user-repartition' is in place but has 6 partitions for 3 tasks/);
  });
});

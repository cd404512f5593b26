import { afterEach, describe, expect, it } from 'vitest';
import {
  type KeyValueStore,
  type ProcessorSupplier,
  Serdes,
  TopologyBuilder,
} from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Buffers values per key in a store and flushes the totals from a punctuator. */
function bufferingTopology(type: 'stream-time' | 'wall-clock', intervalMs: number) {
  const builder = new TopologyBuilder();
  builder.addStateStore('totals', { key: Serdes.string, value: Serdes.json<number>() });
  const flushTotals: ProcessorSupplier<string | null, string | null, string, number> = (context) => {
    const totals = context.getStateStore<KeyValueStore<string, number>>('totals');
    context.schedule(intervalMs, type, async (time) => {
      for await (const [key, total] of totals.all())
        context.forward({
          topic: '',
          partition: 0,
          offset: -1,
          key,
          value: total,
          timestamp: time,
          headers: {},
        });
    });
    // records only add to the totals; output comes from the punctuator alone
    return {
      process: async (record) => {
        totals.put(record.key!, ((await totals.get(record.key!)) ?? 0) + 1);
      },
    };
  };
  builder
    .stream('in', { key: Serdes.string, value: Serdes.string })
    .process(flushTotals, {
      name: 'flush-totals',
      stores: ['totals'],
      keyPreserving: true,
      value: Serdes.json<number>(),
    })
    .to('totals-out', { value: Serdes.json<number>() });
  return builder.build();
}

describe('punctuators', () => {
  it('stream-time: fire once stream time has passed each interval, not on wall-clock time', async () => {
    driver = await TestDriver.create(bufferingTopology('stream-time', 10_000));
    await driver.pipeInput('in', 'a', 'x', 1_000);
    await driver.pipeInput('in', 'a', 'x', 5_000);
    await driver.advanceTime(60_000);
    expect(driver.readOutput('totals-out')).toEqual([]);
    // 11 000 moves stream time to the first deadline (1 000 + 10 000): the punctuation runs right after that record
    await driver.pipeInput('in', 'b', 'x', 11_000);
    expect(driver.readOutput<string, number>('totals-out').map((r) => [r.key, r.value, r.timestamp])).toEqual(
      [
        ['a', 2, 11_000],
        ['b', 1, 11_000],
      ],
    );
    await driver.pipeInput('in', 'b', 'x', 15_000);
    expect(driver.readOutput('totals-out')).toEqual([]);
    // next deadline 21 000
    await driver.pipeInput('in', 'b', 'x', 20_000);
    expect(driver.readOutput('totals-out')).toEqual([]);
  });

  it('wall-clock: fire when the clock moves, even with no record arriving', async () => {
    driver = await TestDriver.create(bufferingTopology('wall-clock', 1_000), { startTime: 100_000 });
    await driver.pipeInput('in', 'a', 'x', 1);
    await driver.advanceTime(500);
    expect(driver.readOutput('totals-out')).toEqual([]);
    await driver.advanceTime(600);
    expect(driver.readOutput<string, number>('totals-out').map((r) => [r.key, r.value, r.timestamp])).toEqual(
      [['a', 1, 101_100]],
    );
  });
});

describe('punctuator failures', () => {
  it('are counted, and fail the task after three in a row instead of being logged and forgotten', async () => {
    const builder = new TopologyBuilder();
    builder.stream('in', { key: Serdes.string, value: Serdes.string }).process(
      (context) => {
        context.schedule(1_000, 'stream-time', () => {
          throw new Error('expiry failed: disk full');
        });
        return { process: () => undefined };
      },
      { name: 'expiring-step' },
    );
    driver = await TestDriver.create(builder.build());
    const failed = new Promise<unknown>((resolve) => driver!.app.once('error', resolve));
    // each record moves stream time past the next deadline: one failing call per record
    for (const t of [0, 1_000, 2_000, 3_000, 4_000]) {
      if (driver.app.state === 'failed') break;
      await driver.pipeInput('in', 'k', 'v', t).catch(() => undefined);
    }
    expect(String(await failed)).toMatch(
      /punctuator of 'expiring-step' failed 3 times in a row: expiry failed/,
    );
    const metric = await driver.app.registry.getSingleMetric('veroai_punctuator_failures_total')?.get();
    expect(metric?.values.reduce((sum, v) => sum + v.value, 0)).toBe(3);
  });

  it('a stream-time punctuation fires after the record that passes its deadline, not at the next batch', async () => {
    const fired: number[] = [];
    const seenBy: number[] = [];
    const builder = new TopologyBuilder();
    builder.stream('in', { key: Serdes.string, value: Serdes.string }).process(
      (context) => {
        context.schedule(1_000, 'stream-time', (time) => {
          fired.push(time);
        });
        return {
          process: (record) => {
            seenBy.push(fired.length);
            return void record;
          },
        };
      },
      { name: 'timed-step' },
    );
    driver = await TestDriver.create(builder.build());
    await driver.pipeInputs(
      'in',
      [0, 500, 1_200, 1_300, 2_500].map((t) => ({ key: 'k', value: 'v', timestamp: t })),
    );
    // one batch: the punctuation at 1 000 fires right after the record at 1 200, the one at 2 000 after 2 500
    expect(fired).toEqual([1_200, 2_500]);
    expect(seenBy).toEqual([0, 0, 0, 1, 1]);
  });
});

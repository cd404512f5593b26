import { concatMap, ignoreElements } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type KeyValueStore,
  type ProcessorSupplier,
  Serdes,
  TestDriver,
  TopologyBuilder,
} from '../../../topology/index.js';

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
    return (source) =>
      source.pipe(
        concatMap(async (record) => {
          totals.put(record.key!, ((await totals.get(record.key!)) ?? 0) + 1);
        }),
        ignoreElements(),
      );
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
    await driver.pipeInput('in', 'b', 'x', 11_000);
    expect(driver.readOutput('totals-out')).toEqual([]);
    // stream time is now 11 000, past the first deadline (1 000 + 10 000): the next batch starts with the punctuation
    await driver.pipeInput('in', 'b', 'x', 15_000);
    expect(driver.readOutput<string, number>('totals-out').map((r) => [r.key, r.value, r.timestamp])).toEqual(
      [
        ['a', 2, 11_000],
        ['b', 1, 11_000],
      ],
    );
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

import { afterEach, describe, expect, it } from 'vitest';
import { type Serde, Serdes, TopologyBuilder } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

describe('topic layout', () => {
  it('lays out a sub-topology that reads a repartition topic written by a sub-topology built after it', async () => {
    // counts is built first; the commands' repartition topic it merges with is written by a later sub-topology
    const builder = new TopologyBuilder();
    const counts = builder
      .stream('events', { key: Serdes.string, value: Serdes.string })
      .map((user) => ({ key: user, value: user }), {
        key: Serdes.string as Serde<string>,
        value: Serdes.string,
      })
      .groupByKey({ name: 'by-user' })
      .count({ name: 'counts' })
      .toStream()
      .mapValues((n) => `count ${n}`, { value: Serdes.string });
    const commands = builder
      .stream('commands', { key: Serdes.string, value: Serdes.string })
      .map((user) => ({ key: user, value: 'command' }), {
        key: Serdes.string as Serde<string>,
        value: Serdes.string,
      })
      .repartition({ name: 'commands-by-user', partitions: 2 });
    counts.merge(commands).to('out');
    driver = await TestDriver.create(builder.build(), { defaultPartitions: 2 });
    await driver.pipeInput('events', 'x', 'ann', 1);
    await driver.pipeInput('commands', 'y', 'ann', 2);
    await driver.pipeInput('events', 'x', 'ann', 3);
    expect(driver.readOutput<string, string>('out').map((r) => `${r.key}: ${r.value}`)).toEqual([
      'ann: count 1',
      'ann: command',
      'ann: count 2',
    ]);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { Serdes, TopologyBuilder } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** A topology whose one step waits `waitMs` per record (a slow store or service), or forever when undefined. */
function slowTopology(waitMs: number | undefined) {
  const builder = new TopologyBuilder();
  builder
    .stream('in', { key: Serdes.string, value: Serdes.json<number>() })
    .process<string, number>(
      (context) => ({
        async process(record) {
          await new Promise((resolve) => (waitMs === undefined ? undefined : setTimeout(resolve, waitMs)));
          context.forward({ ...record, value: record.value * 2 });
        },
      }),
      { name: 'slow-step', keyPreserving: true, value: Serdes.json<number>() },
    )
    .to('out');
  return builder.build();
}

describe('TestDriver settling', () => {
  it('waits for a step that takes longer than any count of event-loop turns (a slow store on a loaded machine)', async () => {
    driver = await TestDriver.create(slowTopology(1_500));
    await driver.pipeInput('in', 'k', 21, 1_000);
    expect(driver.readOutput<string, number>('out').map((r) => r.value)).toEqual([42]);
  });

  it('calls a step that never completes a hang, after its settle timeout', async () => {
    driver = await TestDriver.create(slowTopology(undefined), { settleTimeoutMs: 300 });
    await expect(driver.pipeInput('in', 'k', 1, 1_000)).rejects.toThrow(/did not settle within 0.3 s/);
    // the hung batch never ends: close without waiting for it
    driver = undefined;
  });
});

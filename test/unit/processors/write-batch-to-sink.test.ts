/**
 * writeBatchToSink on the per-record contract: the batch is written once at
 * its end; a value the sink refuses goes to the dead-letter topic with the
 * sink's code, the values before it are forwarded, the ones after it are
 * written again and forwarded; an aborted write fails the batch, uncommitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeBatchToSink } from '../../../processors/write-batch-to-sink.js';
import { Serdes, SinkDataError, TopologyBuilder, VeroaiError } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close().catch(() => undefined);
  driver = undefined;
});

async function driverWith(write: (values: Array<string | null>) => Promise<void>): Promise<TestDriver> {
  const builder = new TopologyBuilder();
  builder
    .stream('in', { key: Serdes.string, value: Serdes.string })
    .process(writeBatchToSink<string | null, string | null>('test-sink', write, { initialBackoffMs: 1 }), {
      name: 'write',
      keyPreserving: true,
    })
    .to('out', { key: Serdes.string, value: Serdes.string });
  return TestDriver.create(builder.build());
}

const inputs = (values: string[]) => values.map((value, i) => ({ key: 'k', value, timestamp: i }));

function deadLetters(d: TestDriver): Array<{ value: string; code: string | undefined }> {
  return d.readDeadLetters().map((r) => ({
    value: r.value?.toString() ?? '',
    code: r.headers?.['veroai.error.code']?.toString(),
  }));
}

describe('writeBatchToSink', () => {
  it('writes a batch once, at its end, and forwards it after the write', async () => {
    const writes: Array<Array<string | null>> = [];
    driver = await driverWith(async (values) => {
      writes.push(values);
    });
    await driver.pipeInputs('in', inputs(['a', 'b', 'c']));
    expect(writes).toEqual([['a', 'b', 'c']]);
    expect(driver.readOutput<string, string>('out').map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('a value refused by position: dead-lettered with the sink code, the others written and forwarded in order', async () => {
    const held: Array<string | null> = [];
    driver = await driverWith(async (values) => {
      const bad = values.indexOf('bad');
      if (bad >= 0) throw new SinkDataError('WRONGTYPE', { valueIndex: bad });
      held.push(...values);
    });
    await driver.pipeInputs('in', inputs(['a', 'bad', 'c', 'd']));
    expect(held).toEqual(['a', 'c', 'd']);
    expect(driver.readOutput<string, string>('out').map((r) => r.value)).toEqual(['a', 'c', 'd']);
    expect(deadLetters(driver)).toEqual([{ value: 'bad', code: 'VEROAI_ERR_SINK_DATA' }]);
  });

  it('a batch refused without a position: written one value at a time to find the refused ones', async () => {
    const held: Array<string | null> = [];
    driver = await driverWith(async (values) => {
      if (values.some((v) => v?.startsWith('bad'))) throw new SinkDataError('refused');
      held.push(...values);
    });
    await driver.pipeInputs('in', inputs(['a', 'bad1', 'b', 'bad2', 'c']));
    expect(held).toEqual(['a', 'b', 'c']);
    expect(driver.readOutput<string, string>('out').map((r) => r.value)).toEqual(['a', 'b', 'c']);
    expect(deadLetters(driver).map((d) => d.value)).toEqual(['bad1', 'bad2']);
  });

  it('a write aborted by a stop fails the batch: nothing forwarded, nothing dead-lettered', async () => {
    driver = await driverWith(async () => {
      throw new VeroaiError('VEROAI_ERR_SINK_ABORTED', 'stopping');
    });
    const failed = new Promise<unknown>((resolve) => driver!.app.once('error', resolve));
    await driver.pipeInputs('in', inputs(['a', 'b'])).catch(() => undefined);
    expect(String(await failed)).toMatch(/stopping/);
    expect(driver.app.state).toBe('failed');
    expect(driver.readOutput<string, string>('out')).toEqual([]);
    expect(driver.readDeadLetters()).toEqual([]);
    expect(await driver.transport.committedOffsets('test-app', 'in')).toEqual([undefined]);
  });
});

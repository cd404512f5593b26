/**
 * The per-record processor contract: a failing record is named, dead-lettered
 * alone, and the records after it are processed; a failure that names no
 * record fails the batch (nothing committed) instead of losing records.
 */
import { concatMap } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type KeyValueStore,
  type ProcessorContext,
  type RecordProcessor,
  readStored,
  Serdes,
  type StreamRecord,
  TopologyBuilder,
} from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close().catch(() => undefined);
  driver = undefined;
});

const io = () => new Promise((resolve) => setImmediate(resolve));

describe('the per-record processor contract', () => {
  it('an async step that throws on record 2 of 1..5 dead-letters 2 and forwards 1, 3, 4, 5', async () => {
    const builder = new TopologyBuilder();
    builder
      .stream('in', { key: Serdes.string, value: Serdes.number })
      .process(
        (context: ProcessorContext): RecordProcessor<string, number> => ({
          async process(record: StreamRecord<string, number>) {
            await io();
            if (record.value === 2) throw new Error('two is not allowed');
            context.forward(record);
          },
        }),
        { name: 'async-step' },
      )
      .to('out', { key: Serdes.string, value: Serdes.number });
    driver = await TestDriver.create(builder.build());
    await driver.pipeInputs(
      'in',
      [1, 2, 3, 4, 5].map((n) => ({ key: 'k', value: n, timestamp: n })),
    );
    expect(driver.readOutput<string, number>('out').map((r) => r.value)).toEqual([1, 3, 4, 5]);
    const dead = driver.readDeadLetters();
    expect(dead.map((r) => Serdes.number.deserialize(r.value, 'in'))).toEqual([2]);
  });

  it('sees the stream time of the record it processes, not of records behind it in the batch', async () => {
    const seen: number[] = [];
    const builder = new TopologyBuilder();
    builder.stream('in', { key: Serdes.string, value: Serdes.number }).process(
      (context: ProcessorContext): RecordProcessor<string, number> => ({
        async process() {
          await io();
          seen.push(context.streamTime());
        },
      }),
      { name: 'clock-reader' },
    );
    driver = await TestDriver.create(builder.build());
    await driver.pipeInputs(
      'in',
      [5, 3, 9, 7].map((t) => ({ key: 'k', value: t, timestamp: t })),
    );
    expect(seen).toEqual([5, 5, 9, 9]);
  });

  it('an RxJS operator that fails after an await without naming its record fails the batch: nothing is lost or committed', async () => {
    const builder = new TopologyBuilder();
    builder
      .stream('in', { key: Serdes.string, value: Serdes.number })
      .process(
        () =>
          concatMap(async (record: StreamRecord<string | null, number | null>) => {
            await io();
            if (record.value === 2) throw new Error('two is not allowed');
            return record;
          }),
        { name: 'rxjs-async-step' },
      )
      .to('out', { key: Serdes.string, value: Serdes.number });
    driver = await TestDriver.create(builder.build());
    const failed = new Promise<unknown>((resolve) => driver!.app.once('error', resolve));
    await driver
      .pipeInputs(
        'in',
        [1, 2, 3, 4, 5].map((n) => ({ key: 'k', value: n, timestamp: n })),
      )
      .catch(() => undefined);
    expect(String(await failed)).toMatch(/failed asynchronously without naming its record/);
    expect(driver.app.state).toBe('failed');
    // no record was dead-lettered on a guess, and no offset of the batch was committed
    expect(driver.readDeadLetters()).toEqual([]);
    expect(await driver.transport.committedOffsets('test-app', 'in')).toEqual([undefined]);
  });

  it('a step reading a changelogged memory store through readStored makes no promise for any record', async () => {
    const returned: unknown[] = [];
    const builder = new TopologyBuilder();
    builder.addStateStore('counts', { key: Serdes.string, value: Serdes.json<number>() });
    builder
      .stream('in', { key: Serdes.string, value: Serdes.number })
      .process(
        (context: ProcessorContext): RecordProcessor<string, number> => {
          const counts = context.getStateStore<KeyValueStore<string, number>>('counts');
          const step: RecordProcessor<string, number> = {
            process: (record) =>
              readStored(counts, record.key, (count) => {
                counts.put(record.key, (count ?? 0) + 1);
                context.forward({ ...record, value: (count ?? 0) + 1 });
              }),
          };
          return {
            process(record) {
              const result = step.process(record);
              returned.push(result);
              return result;
            },
          };
        },
        { name: 'count', stores: ['counts'], keyPreserving: true },
      )
      .to('out', { key: Serdes.string, value: Serdes.number });
    driver = await TestDriver.create(builder.build());
    await driver.pipeInputs(
      'in',
      ['a', 'b', 'a', 'a', 'b'].map((key, i) => ({ key, value: i, timestamp: i })),
    );
    expect(driver.readOutput<string, number>('out').map((r) => `${r.key}${r.value}`)).toEqual([
      'a1',
      'b1',
      'a2',
      'a3',
      'b2',
    ]);
    expect(returned).toHaveLength(5);
    expect(returned.filter((r) => r instanceof Promise)).toEqual([]);
  });
});

describe('read-ahead (RecordProcessor.readAhead)', () => {
  /** `in` → first → second → `out`, each step logging what it reads ahead and processes. */
  function twoSteps(log: string[], failAhead = false) {
    const step =
      (name: string) =>
      (context: ProcessorContext): RecordProcessor<string, number> => ({
        readAhead(records) {
          if (failAhead) throw new Error('the disk is gone');
          log.push(`${name} ahead ${records.map((r) => `${r.key}${r.value}`).join(',')}`);
        },
        process(record) {
          log.push(`${name} ${record.key}${record.value}`);
          context.forward({ ...record, value: record.value * 10 });
        },
      });
    const builder = new TopologyBuilder();
    builder
      .stream('in', { key: Serdes.string, value: Serdes.number })
      .process(step('first'), { name: 'first', keyPreserving: true })
      .process(step('second'), { name: 'second', keyPreserving: true })
      .to('out', { key: Serdes.string, value: Serdes.number });
    return builder.build();
  }

  it('is given, before the batch, the records of a processor fed straight by its source; a processor further down gets none', async () => {
    const log: string[] = [];
    driver = await TestDriver.create(twoSteps(log));
    await driver.pipeInputs(
      'in',
      [1, 2, 3].map((value) => ({ key: 'k', value })),
    );
    expect(log).toEqual([
      'first ahead k1,k2,k3',
      'first k1',
      'second k10',
      'first k2',
      'second k20',
      'first k3',
      'second k30',
    ]);
  });

  it('is a hint: a read-ahead that throws is logged, and the batch is processed as without it', async () => {
    const log: string[] = [];
    driver = await TestDriver.create(twoSteps(log, true));
    await driver.pipeInputs(
      'in',
      [1, 2].map((value) => ({ key: 'k', value })),
    );
    expect(log).toEqual(['first k1', 'second k10', 'first k2', 'second k20']);
    expect(driver.readOutput<string, number>('out').map((r) => r.value)).toEqual([100, 200]);
    expect(driver.readDeadLetters()).toEqual([]);
    expect(driver.app.state).toBe('running');
  });

  it('skips what cannot be decoded: it is dead-lettered in its turn', async () => {
    const log: string[] = [];
    driver = await TestDriver.create(twoSteps(log));
    const value = (n: number) => Serdes.number.serialize(n, 'in') as Buffer;
    driver.transport.log.append({
      topic: 'in',
      partition: 0,
      key: Buffer.from('k'),
      value: value(1),
      timestamp: 0,
    });
    driver.transport.log.append({
      topic: 'in',
      partition: 0,
      key: Buffer.from('k'),
      value: Buffer.from('x'),
      timestamp: 0,
    });
    await driver.pipeRawInput('in', Buffer.from('k'), value(3), 0);
    expect(log.filter((line) => line.includes('ahead'))).toEqual(['first ahead k1,k3']);
    expect(driver.readOutput<string, number>('out').map((r) => r.value)).toEqual([100, 300]);
    expect(driver.readDeadLetters()).toHaveLength(1);
  });
});

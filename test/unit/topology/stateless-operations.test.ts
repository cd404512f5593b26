import { filter as rxFilter, map as rxMap } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DLQ_HEADERS, Serdes, TopologyBuilder, TopologyError } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

interface Event {
  tenant: string;
  user: string;
  type: string;
  n: number;
}

const json = Serdes.json<Event>();
const ev = (tenant: string, user: string, type: string, n: number): Event => ({ tenant, user, type, n });

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function source(builder = new TopologyBuilder()) {
  return { builder, stream: builder.stream('in', { key: Serdes.string, value: json }) };
}

describe('stateless DSL operations on the memory transport', () => {
  it('filter and filterNot keep and drop by predicate', async () => {
    const { builder, stream } = source();
    stream.filter((e) => e.n % 2 === 0).to('even');
    stream.filterNot((e) => e.n % 2 === 0).to('odd');
    driver = await TestDriver.create(builder.build());
    for (let n = 0; n < 6; n++) await driver.pipeInput('in', 'k', ev('a', 'u', 'click', n));
    expect(driver.readOutput<string, Event>('even').map((r) => r.value.n)).toEqual([0, 2, 4]);
    expect(driver.readOutput<string, Event>('odd').map((r) => r.value.n)).toEqual([1, 3, 5]);
  });

  it('mapValues keeps key and timestamp; map replaces both', async () => {
    const { builder, stream } = source();
    stream.mapValues((e) => e.n * 10, { value: Serdes.number }).to('tens');
    stream
      .map((e) => ({ key: e.tenant, value: `${e.user}:${e.type}` }), {
        key: Serdes.string,
        value: Serdes.string,
      })
      .to('pairs');
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('in', 'acme/u1', ev('acme', 'u1', 'click', 4), 1234);
    expect(driver.readOutput('tens')).toMatchObject([{ key: 'acme/u1', value: 40, timestamp: 1234 }]);
    expect(driver.readOutput('pairs')).toMatchObject([{ key: 'acme', value: 'u1:click', timestamp: 1234 }]);
  });

  it('selectKey re-keys and the sink partitions by the new key', async () => {
    const { builder, stream } = source();
    stream.selectKey((e) => e.tenant, { key: Serdes.string }).to('by-tenant');
    driver = await TestDriver.create(builder.build(), { partitions: { 'by-tenant': 4 } });
    for (const t of ['acme', 'globex', 'initech', 'acme'])
      await driver.pipeInput('in', `${t}/u`, ev(t, 'u', 'click', 1));
    const out = driver.readOutput<string, Event>('by-tenant');
    expect(out.map((r) => r.key).sort()).toEqual(['acme', 'acme', 'globex', 'initech']);
    const acme = out.filter((r) => r.key === 'acme').map((r) => r.partition);
    expect(new Set(acme).size).toBe(1);
  });

  it('flatMap and flatMapValues emit zero or more records', async () => {
    const { builder, stream } = source();
    stream
      .flatMap((e) => Array.from({ length: e.n }, (_, i) => ({ key: `${e.user}-${i}`, value: i })), {
        key: Serdes.string,
        value: Serdes.number,
      })
      .to('fm');
    stream.flatMapValues((e) => (e.n > 1 ? [e.type, e.type] : []), { value: Serdes.string }).to('fmv');
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('in', 'k', ev('a', 'u', 'x', 3));
    await driver.pipeInput('in', 'k', ev('a', 'u', 'y', 0));
    expect(driver.readOutput('fm').map((r) => [r.key, r.value])).toEqual([
      ['u-0', 0],
      ['u-1', 1],
      ['u-2', 2],
    ]);
    expect(driver.readOutput('fmv').map((r) => r.value)).toEqual(['x', 'x']);
  });

  it('peek sees every record and passes it on unchanged', async () => {
    const seen: number[] = [];
    const { builder, stream } = source();
    stream.peek((e) => seen.push(e.n)).to('out');
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('in', 'k', ev('a', 'u', 'x', 7));
    expect(seen).toEqual([7]);
    expect(driver.readOutput<string, Event>('out').map((r) => r.value.n)).toEqual([7]);
  });

  it('split routes each record to the first matching branch, the rest to the default', async () => {
    const { builder, stream } = source();
    const branches = stream
      .split({ name: 'by-type' })
      .branch((e) => e.type === 'error', 'errors')
      .branch((e) => e.n > 5 || e.type === 'error', 'big')
      .defaultBranch('rest');
    branches.errors!.to('errors');
    branches.big!.to('big');
    branches.rest!.to('rest');
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('in', 'k', ev('a', 'u', 'error', 9));
    await driver.pipeInput('in', 'k', ev('a', 'u', 'click', 9));
    await driver.pipeInput('in', 'k', ev('a', 'u', 'click', 1));
    expect(driver.readOutput<string, Event>('errors').map((r) => r.value.n)).toEqual([9]);
    expect(driver.readOutput<string, Event>('big').map((r) => r.value.type)).toEqual(['click']);
    expect(driver.readOutput<string, Event>('rest').map((r) => r.value.n)).toEqual([1]);
  });

  it('merge interleaves two streams in arrival order', async () => {
    const builder = new TopologyBuilder();
    const a = builder.stream('a', { key: Serdes.string, value: Serdes.string });
    const b = builder.stream('b', { key: Serdes.string, value: Serdes.string });
    a.merge(b).to('merged');
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('a', 'k', 'a1', 1);
    await driver.pipeInput('b', 'k', 'b1', 2);
    await driver.pipeInput('a', 'k', 'a2', 3);
    expect(driver.readOutput('merged').map((r) => r.value)).toEqual(['a1', 'b1', 'a2']);
  });

  it('process runs a custom RxJS operator with its context, per task', async () => {
    const { builder, stream } = source();
    stream
      .process<string | null, string>(
        (ctx) => (input) =>
          input.pipe(
            rxFilter((r) => r.value.type !== 'noise'),
            rxMap((r) => ({ ...r, value: `${ctx.taskId}:${r.value.n}:${ctx.streamTime()}` })),
          ),
        { name: 'tag', keyPreserving: true, value: Serdes.string as never },
      )
      .to('tagged', { value: Serdes.string as never });
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('in', 'k', ev('a', 'u', 'x', 1), 100);
    await driver.pipeInput('in', 'k', ev('a', 'u', 'noise', 2), 200);
    await driver.pipeInput('in', 'k', ev('a', 'u', 'x', 3), 150);
    expect(driver.readOutput('tagged').map((r) => r.value)).toEqual(['0_0:1:100', '0_0:3:200']);
  });

  it('a throwing function sends the record to the DLQ with headers, and later records flow', async () => {
    const { builder, stream } = source();
    stream
      .mapValues(
        (e) => {
          if (e.n === 2) throw new Error('boom on two');
          return e;
        },
        { name: 'explode', value: json },
      )
      .to('out');
    driver = await TestDriver.create(builder.build());
    for (const n of [1, 2, 3]) await driver.pipeInput('in', 'k', ev('a', 'u', 'x', n), 10 * n);
    expect(driver.readOutput<string, Event>('out').map((r) => r.value.n)).toEqual([1, 3]);
    const dead = driver.readDeadLetters();
    expect(dead).toHaveLength(1);
    const h = dead[0]!.headers;
    expect(String(h[DLQ_HEADERS.errorClass])).toBe('ProcessingError');
    expect(String(h[DLQ_HEADERS.errorMessage])).toContain('boom on two');
    expect(String(h[DLQ_HEADERS.node])).toBe('explode');
    expect(String(h[DLQ_HEADERS.topic])).toBe('in');
    expect(String(h[DLQ_HEADERS.partition])).toBe('0');
    expect(String(h[DLQ_HEADERS.offset])).toBe('1');
    expect(String(h[DLQ_HEADERS.timestamp])).toBe('20');
    expect(JSON.parse(dead[0]!.value!.toString()).n).toBe(2);
  });

  it('an error inside a custom operator dead-letters that record and resubscribes the operator', async () => {
    const { builder, stream } = source();
    stream
      .process<string | null, Event>(
        () =>
          rxMap((r) => {
            if (r.value.type === 'poison') throw new TypeError('cannot digest');
            return r;
          }),
        { name: 'digest', keyPreserving: true, value: json },
      )
      .to('out');
    driver = await TestDriver.create(builder.build());
    await driver.pipeInput('in', 'k', ev('a', 'u', 'ok', 1));
    await driver.pipeInput('in', 'k', ev('a', 'u', 'poison', 2));
    await driver.pipeInput('in', 'k', ev('a', 'u', 'ok', 3));
    expect(driver.readOutput<string, Event>('out').map((r) => r.value.n)).toEqual([1, 3]);
    const dead = driver.readDeadLetters();
    expect(dead.map((d) => JSON.parse(d.value!.toString()).n)).toEqual([2]);
    expect(String(dead[0]!.headers[DLQ_HEADERS.errorMessage])).toContain('cannot digest');
  });

  it('undecodable bytes go to the DLQ as they were, with a decode error', async () => {
    const { builder, stream } = source();
    stream.to('out');
    driver = await TestDriver.create(builder.build());
    await driver.pipeRawInput('in', Buffer.from('k'), Buffer.from('{not json'), 5);
    await driver.pipeInput('in', 'k', ev('a', 'u', 'x', 1), 6);
    expect(driver.readOutput('out')).toHaveLength(1);
    const [dead] = driver.readDeadLetters();
    expect(dead!.value!.toString()).toBe('{not json');
    expect(String(dead!.headers[DLQ_HEADERS.errorCode])).toBe('VEROAI_ERR_DECODE_INVALID');
    expect(String(dead!.headers[DLQ_HEADERS.errorClass])).toBe('DeserializationError');
  });

  it('builder errors name the bad argument', () => {
    const builder = new TopologyBuilder();
    expect(() => builder.stream('bad topic!', { key: Serdes.string, value: Serdes.string })).toThrow(
      /not a valid topic name/,
    );
    const s = builder.stream('ok', { key: Serdes.string, value: Serdes.string });
    expect(() => builder.stream('ok', { key: Serdes.string, value: Serdes.string })).toThrow(TopologyError);
    expect(() => s.map((v) => ({ key: v, value: v?.length ?? 0 })).to('x')).toThrow(/no key serde/);
  });
});

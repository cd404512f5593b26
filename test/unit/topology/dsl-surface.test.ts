import { describe, expect, it } from 'vitest';
import * as topology from '../../../topology/index.js';
import {
  Serdes,
  SessionWindows,
  TimeWindows,
  TopologyBuilder,
  TopologyError,
} from '../../../topology/index.js';

/** Every property a user can reach on `value`: its own and its prototypes', up to Object.prototype. */
function surface(value: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = value; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) if (name !== 'constructor') names.add(name);
  }
  return [...names].sort();
}

const sorted = (names: string[]): string[] => [...names].sort();

function source() {
  const builder = new TopologyBuilder();
  const stream = builder.stream('in', { key: Serdes.string, value: Serdes.json<{ n: number }>() });
  return { builder, stream };
}

describe('the DSL exposes operations only, no graph internals', () => {
  it('a KStream has no position, no chain, nothing but its operations', () => {
    const { stream } = source();
    expect('position' in stream).toBe(false);
    expect('chain' in stream).toBe(false);
    // @ts-expect-error the graph position is not part of the public type
    expect(stream.position).toBeUndefined();
    expect(surface(stream)).toEqual(
      sorted([
        'filter',
        'filterNot',
        'mapValues',
        'map',
        'selectKey',
        'flatMap',
        'flatMapValues',
        'peek',
        'split',
        'merge',
        'process',
        'to',
        'repartition',
        'groupByKey',
        'groupBy',
        'join',
        'leftJoin',
      ]),
    );
  });

  it('grouped, windowed, branched streams and tables show only their operations', () => {
    const { builder, stream } = source();
    const grouped = stream.groupByKey();
    expect(surface(grouped)).toEqual(sorted(['windowedBy', 'count', 'reduce', 'aggregate']));
    expect(surface(grouped.windowedBy(TimeWindows.ofSizeAndGrace(1_000, 0)))).toEqual(
      sorted(['count', 'reduce', 'aggregate']),
    );
    expect(surface(grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(1_000, 0)))).toEqual(
      sorted(['count', 'aggregate']),
    );
    expect(surface(stream.split())).toEqual(sorted(['branch', 'defaultBranch', 'noDefaultBranch']));
    const table = builder.table('rows', { key: Serdes.string, value: Serdes.string, name: 'rows' });
    expect(surface(table)).toEqual(sorted(['storeName', 'mapValues', 'filter', 'toStream', 'suppress']));
    expect(table.storeName).toBe('rows');
    expect(surface(builder)).toEqual(sorted(['table', 'stream', 'addStateStore', 'build']));
  });

  it('the engine module exports no DSL implementation class', () => {
    const exported = Object.keys(topology);
    expect(exported.filter((name) => name.endsWith('Impl') || name === 'StreamNode')).toEqual([]);
  });

  it('merge still refuses a stream from another builder', () => {
    const { stream } = source();
    const other = source().stream;
    expect(() => stream.merge(other)).toThrow(TopologyError);
    expect(() => stream.merge(other)).toThrow(/same TopologyBuilder/);
  });
});

/**
 * A task's node graph is built once and run batch after batch: processor
 * instances keep their fields, an RxJS operator is subscribed afresh for each
 * batch (it sees each batch as a stream that completes), counts start from
 * zero, and forward() is refused between batches.
 */
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type ProcessorContext,
  type RecordProcessor,
  Serdes,
  type StreamRecord,
  TopologyBuilder,
  TopologyError,
} from '../../../topology/index.js';
import type { OutgoingRecord } from '../../../topology/record.js';
import { type ProcessorInstance, TaskGraph } from '../../../topology/runtime/internal/task-graph.js';

type AnyRecord = StreamRecord<unknown, unknown>;

const record = (value: number): AnyRecord => ({
  topic: 'in',
  partition: 0,
  offset: 0,
  key: 'k',
  value,
  timestamp: 0,
  headers: {},
});

function buildGraph() {
  let subscriptions = 0;
  let graph: TaskGraph | undefined;
  const builder = new TopologyBuilder();
  builder
    .stream('in', { key: Serdes.string, value: Serdes.number })
    .process(
      () => (source) => {
        subscriptions += 1;
        return source.pipe(map((r) => ({ ...r, value: (r.value ?? 0) * 10 })));
      },
      { name: 'times-ten' },
    )
    .process(
      (context: ProcessorContext): RecordProcessor<string, number> => {
        let total = 0;
        return {
          process(record) {
            total += record.value;
            context.forward({ ...record, value: total });
          },
        };
      },
      { name: 'running-total' },
    )
    .to('out', { key: Serdes.string, value: Serdes.number });
  const subTopology = builder.build().subTopologies[0]!;
  const instances = new Map<string, ProcessorInstance>();
  for (const node of subTopology.nodes) {
    if (node.kind !== 'processor') continue;
    const context = {
      forward: (record: AnyRecord) => graph!.forward(node.name, record),
    } as unknown as ProcessorContext;
    instances.set(node.name, node.supplier(context) as ProcessorInstance);
  }
  const emitted: OutgoingRecord[] = [];
  graph = new TaskGraph(
    subTopology,
    'app',
    instances,
    {
      deadLetter: () => undefined,
      emit: (record) => emitted.push(record),
      partitionFor: () => 0,
      keepInPlace: () => {
        throw new Error('this topology has no repartition in place');
      },
      failTask: (error) => {
        throw error;
      },
    },
    0,
  );
  const source = subTopology.nodes.find((n) => n.kind === 'source')!.name;
  return { graph, emitted, source, subscriptions: () => subscriptions };
}

async function runBatch(graph: TaskGraph, source: string, values: number[]): Promise<void> {
  const done = graph.beginBatch();
  for (const value of values) await graph.source(source).push(record(value));
  await graph.endBatch();
  await done;
  graph.closeBatch();
}

describe('TaskGraph', () => {
  it('runs batch after batch on one graph: state kept, operators subscribed per batch, counts per batch', async () => {
    const { graph, emitted, source, subscriptions } = buildGraph();
    await runBatch(graph, source, [1, 2]);
    const first = graph.counts().map((c) => [c.node, c.recordsIn, c.recordsOut]);
    await runBatch(graph, source, [3]);
    expect(emitted.map((r) => Serdes.number.deserialize(r.value, 'out'))).toEqual([10, 30, 60]);
    expect(subscriptions()).toBe(2);
    const total = graph.counts().find((c) => c.node === 'running-total')!;
    expect([total.recordsIn, total.recordsOut]).toEqual([1, 1]);
    expect(first.find(([node]) => node === 'running-total')).toEqual(['running-total', 2, 2]);
  });

  it('refuses forward() between batches', async () => {
    const { graph, source } = buildGraph();
    await runBatch(graph, source, [1]);
    expect(() => graph.forward('running-total', record(1))).toThrow(TopologyError);
  });
});

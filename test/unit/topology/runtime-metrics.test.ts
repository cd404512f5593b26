import { pino } from 'pino';
import { type MetricValueWithName, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryTransport, Serdes, TopologyBuilder } from '../../../topology/index.js';
import { NodeCounts, NodeTimer, TIMED_BATCH_SHARE } from '../../../topology/runtime/batch-graph.js';
import { ConsumerLagMonitor } from '../../../topology/runtime/consumer-lag.js';
import { RuntimeMetrics } from '../../../topology/runtime/metrics.js';
import { TestDriver } from '../../../topology/testing/index.js';

interface Click {
  user: string;
  keep: boolean;
}
const clicks = Serdes.json<Click>();

let driver: TestDriver | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await driver?.close();
  driver = undefined;
});

async function values(registry: Registry, name: string): Promise<MetricValueWithName<string>[]> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as MetricValueWithName<string>[];
}

/** in → filter(keep) → mapValues(user) → out, and in → count per user (a store) → counts */
function clicksTopology() {
  const builder = new TopologyBuilder();
  const input = builder.stream('in', { key: Serdes.string, value: clicks });
  input
    .filter((c) => c.keep, { name: 'keep' })
    .mapValues((c) => c.user, { name: 'user-of', value: Serdes.string })
    .to('out');
  input.groupByKey().count({ name: 'clicks-per-user' }).toStream().to('counts', { value: Serdes.number });
  return builder.build();
}

describe('engine metrics', () => {
  it('end-to-end latency: from event time to acknowledgement, per external output topic', async () => {
    driver = await TestDriver.create(clicksTopology(), { startTime: 100_000 });
    await driver.pipeInput('in', 'a', { user: 'a', keep: true }, 97_000);
    await driver.pipeInput('in', 'b', { user: 'b', keep: false }, 99_500);
    const latency = await values(driver.app.registry, 'veroai_end_to_end_latency_seconds');
    const of = (topic: string, metric: string) =>
      latency.find((v) => v.labels.topic === topic && v.metricName === metric)?.value;
    // 'out' got the kept record only; 'counts' got both
    expect(of('out', 'veroai_end_to_end_latency_seconds_count')).toBe(1);
    expect(of('out', 'veroai_end_to_end_latency_seconds_sum')).toBeCloseTo(3, 9);
    expect(of('counts', 'veroai_end_to_end_latency_seconds_count')).toBe(2);
    expect(of('counts', 'veroai_end_to_end_latency_seconds_sum')).toBeCloseTo(3.5, 9);
    // internal topics (changelogs, repartitions, DLQ) are not outputs
    expect(new Set(latency.map((v) => v.labels.topic))).toEqual(new Set(['out', 'counts']));
  });

  it('process time: one observation per timed batch that fed a node, for processors and sinks, none for sources', async () => {
    // every batch timed
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const topology = clicksTopology();
    driver = await TestDriver.create(topology);
    await driver.pipeInput('in', 'a', { user: 'a', keep: true });
    await driver.pipeInput('in', 'b', { user: 'b', keep: false });
    await driver.pipeInput('in', 'a', { user: 'a', keep: false });
    const counts = new Map<string, number>();
    for (const v of await values(driver.app.registry, 'veroai_node_process_seconds')) {
      if (v.metricName === 'veroai_node_process_seconds_count') counts.set(String(v.labels.node), v.value);
    }
    const sources = [...topology.nodes.values()].filter((n) => n.kind === 'source').map((n) => n.name);
    expect(sources.some((s) => counts.has(s))).toBe(false);
    expect(counts.get('keep')).toBe(3);
    // only the first record passed the filter: the nodes after it ran in one batch
    expect(counts.get('user-of')).toBe(1);
    const sinkAfterFilter = [...topology.nodes.values()].find(
      (n) => n.kind === 'sink' && n.parents.includes('user-of'),
    );
    expect(counts.get(sinkAfterFilter!.name)).toBe(1);
  });

  it('process time: an untimed batch is not observed (rather than observed as zero)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(TIMED_BATCH_SHARE);
    driver = await TestDriver.create(clicksTopology());
    await driver.pipeInput('in', 'a', { user: 'a', keep: true });
    const nodeRecords = await values(driver.app.registry, 'veroai_node_records_total');
    expect(nodeRecords.length).toBeGreaterThan(0);
    expect(await values(driver.app.registry, 'veroai_node_process_seconds')).toEqual([]);
  });

  it('state store entries: summed over the tasks when scraped', async () => {
    driver = await TestDriver.create(clicksTopology(), { defaultPartitions: 3 });
    for (const user of ['a', 'b', 'c', 'a', 'd', 'b'])
      await driver.pipeInput('in', user, { user, keep: true });
    const entries = await values(driver.app.registry, 'veroai_state_store_entries');
    expect(entries.map((v) => [v.labels.store, v.value])).toEqual([['clicks-per-user', 4]]);
    await driver.pipeInput('in', 'e', { user: 'e', keep: true });
    const later = await values(driver.app.registry, 'veroai_state_store_entries');
    expect(later.map((v) => v.value)).toEqual([5]);
  });

  it('restore counters and paused partitions start at zero', async () => {
    driver = await TestDriver.create(clicksTopology());
    const restored = await values(driver.app.registry, 'veroai_restore_records_total');
    expect(restored.map((v) => [v.labels.store, v.value])).toEqual([['clicks-per-user', 0]]);
    const paused = await values(driver.app.registry, 'veroai_paused_partitions');
    expect(paused.map((v) => v.value)).toEqual([0]);
  });
});

describe('event loop busy time', () => {
  it("counts the loop's busy time, not its idle time: its rate is the main thread's utilization", async () => {
    const registry = new Registry();
    new RuntimeMetrics(registry, 'app-a');
    // a second application on the same registry shares the one process-wide counter
    new RuntimeMetrics(registry, 'app-b');
    const busySeconds = async () =>
      (await values(registry, 'veroai_event_loop_busy_seconds_total'))[0]!.value;
    const start = await busySeconds();
    const blockedUntil = performance.now() + 300;
    while (performance.now() < blockedUntil) {
      // the loop is blocked: busy, whatever else the machine runs meanwhile
    }
    const afterBlock = await busySeconds();
    expect(afterBlock - start).toBeGreaterThanOrEqual(0.29);
    // waiting on a timer is idle time: a counter of wall time (or CPU time of other threads) would grow by 0.6
    await new Promise((resolve) => setTimeout(resolve, 600));
    const afterIdle = await busySeconds();
    expect(afterIdle - afterBlock).toBeLessThan(0.3);
    expect(afterIdle).toBeGreaterThanOrEqual(afterBlock);
  });
});

describe('NodeTimer', () => {
  it('charges each node its own time: a parent is not charged while its child runs, nor after it leaves', () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const timer = new NodeTimer();
    const parent = new NodeCounts('parent');
    const child = new NodeCounts('child');
    const outsideParent = timer.enter(parent);
    now = 5;
    const insideChild = timer.enter(child);
    now = 25;
    timer.leave(insideChild);
    now = 27;
    timer.leave(outsideParent);
    // an async emission later: the child runs with no node around it, the idle time is nobody's
    now = 100;
    const alone = timer.enter(child);
    now = 104;
    timer.leave(alone);
    expect(parent.busyMs).toBe(7);
    expect(child.busyMs).toBe(24);
    expect(child.busySeconds()).toBe(0.024);
  });

  it('an untimed batch reads no clock and leaves the nodes unmeasured', () => {
    const now = vi.spyOn(performance, 'now');
    const timer = NodeTimer.forBatch(() => 0.9);
    const node = new NodeCounts('node');
    timer.leave(timer.enter(node));
    expect(now).not.toHaveBeenCalled();
    expect(node.busySeconds()).toBeUndefined();
    expect(NodeTimer.forBatch(() => 0).timing).toBe(true);
  });
});

describe('ConsumerLagMonitor', () => {
  async function setup() {
    const transport = new MemoryTransport();
    await transport.ensureTopics([{ name: 'in', partitions: 3 }]);
    const append = (partition: number, n: number) => {
      for (let i = 0; i < n; i++)
        transport.log.append({ topic: 'in', partition, key: null, value: null, timestamp: 0, headers: {} });
    };
    append(0, 10);
    append(1, 4);
    append(2, 2);
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry, 'lag-app');
    const monitor = new ConsumerLagMonitor(transport, 'lag-app', metrics, pino({ level: 'silent' }), 60_000);
    const lag = async () =>
      Object.fromEntries(
        (await values(registry, 'veroai_consumer_lag')).map((v) => [
          `${v.labels.topic}:${v.labels.partition}`,
          v.value,
        ]),
      );
    return { transport, monitor, lag, append };
  }

  const tps = [0, 1, 2].map((partition) => ({ topic: 'in', partition }));

  it('end offset minus the next offset to process: from batches, else the committed offset, else nothing', async () => {
    const { transport, monitor, lag } = await setup();
    transport.log.commit('lag-app', [{ topic: 'in', partition: 1, offset: 1 }]);
    monitor.assigned(tps);
    monitor.advanced([{ topic: 'in', partition: 0, offset: 6 }]);
    await monitor.refresh();
    // partition 2: no batch and no commit yet; its lag is unknown, not guessed
    expect(await lag()).toEqual({ 'in:0': 4, 'in:1': 3 });
  });

  it('follows the log and the batches on the next refresh, and never goes backwards on an older offset', async () => {
    const { monitor, lag, append } = await setup();
    monitor.assigned(tps);
    monitor.advanced([{ topic: 'in', partition: 0, offset: 10 }]);
    await monitor.refresh();
    expect((await lag())['in:0']).toBe(0);
    append(0, 5);
    monitor.advanced([{ topic: 'in', partition: 0, offset: 8 }]);
    await monitor.refresh();
    expect((await lag())['in:0']).toBe(5);
  });

  it('drops the series of revoked partitions, and all of them when stopped', async () => {
    const { monitor, lag } = await setup();
    monitor.assigned(tps);
    monitor.advanced(tps.map((tp) => ({ ...tp, offset: 1 })));
    await monitor.refresh();
    expect(Object.keys(await lag()).sort()).toEqual(['in:0', 'in:1', 'in:2']);
    monitor.revoked([tps[0]!]);
    expect(Object.keys(await lag()).sort()).toEqual(['in:1', 'in:2']);
    monitor.stop();
    expect(await lag()).toEqual({});
  });
});

/**
 * ConsumerLagMonitor with a transport that reads partition tails: lag net of
 * transaction markers and aborted records. The memory log has no markers, so
 * the tail reader here treats chosen offsets as markers.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { MemoryTransport } from '../../../topology/index.js';
import { ConsumerLagMonitor } from '../../../topology/runtime/consumer-lag.js';
import { RuntimeMetrics } from '../../../topology/runtime/metrics.js';
import type { PartitionTail } from '../../../topology/transports/transport.js';

async function setup(options: { records: number; markers: number[] }) {
  const transport = new MemoryTransport();
  await transport.ensureTopics([{ name: 'in', partitions: 1 }]);
  const append = (n: number) => {
    for (let i = 0; i < n; i++)
      transport.log.append({ topic: 'in', partition: 0, key: null, value: null, timestamp: 0, headers: {} });
  };
  append(options.records);
  const markers = new Set(options.markers);
  const reads: number[] = [];
  let failing = false;
  // as the kafka transport answers: the first non-marker offset from each position, else the end
  const skip = vi.fn(async (_topic: string, from: ReadonlyMap<number, number>) => {
    if (failing) throw new Error('broker unreachable');
    const out = new Map<number, PartitionTail>();
    for (const [partition, offset] of from) {
      reads.push(offset);
      const end = transport.log.endOffsets('in')[partition]!;
      let at = offset;
      while (at < end && markers.has(at)) at++;
      out.set(partition, { offset: at, record: at < end });
    }
    return out;
  });
  Object.assign(transport, { skipTransactionMarkers: skip });
  const registry = new Registry();
  const logger = pino({ level: 'silent' });
  const warn = vi.spyOn(logger, 'warn');
  const monitor = new ConsumerLagMonitor(
    transport,
    'lag-app',
    new RuntimeMetrics(registry, 'lag-app'),
    logger,
    60_000,
  );
  monitor.assigned([{ topic: 'in', partition: 0 }]);
  const lag = async () => (await registry.getSingleMetric('veroai_consumer_lag')!.get()).values[0]?.value;
  return {
    monitor,
    lag,
    reads,
    append,
    markers,
    warn,
    fail: (on: boolean) => {
      failing = on;
    },
  };
}

describe('consumer lag net of transaction markers', () => {
  it('reads 0 when only markers follow the position, and reads that tail once while nothing moves', async () => {
    // records 0-9, commit marker at 10, records 11-19, commit marker at 20: end 21
    const { monitor, lag, reads } = await setup({ records: 21, markers: [10, 20] });
    monitor.advanced([{ topic: 'in', partition: 0, offset: 20 }]);
    await monitor.refresh();
    expect(await lag()).toBe(0);
    await monitor.refresh();
    await monitor.refresh();
    expect(reads).toEqual([20]);
  });

  it('counts from the first record after the markers while records remain, without reading again', async () => {
    // markers at 5 and 6, then records 7-9
    const { monitor, lag, reads } = await setup({ records: 10, markers: [5, 6] });
    monitor.advanced([{ topic: 'in', partition: 0, offset: 5 }]);
    await monitor.refresh();
    expect(await lag()).toBe(3);
    await monitor.refresh();
    expect(reads).toEqual([5]);
    monitor.advanced([{ topic: 'in', partition: 0, offset: 10 }]);
    await monitor.refresh();
    expect(await lag()).toBe(0);
  });

  it('reads on from where the last read stopped when the log grows past it', async () => {
    const { monitor, lag, reads, append, markers } = await setup({ records: 11, markers: [10] });
    monitor.advanced([{ topic: 'in', partition: 0, offset: 10 }]);
    await monitor.refresh();
    expect(await lag()).toBe(0);
    // an aborted transaction lands at 11-13 with its abort marker at 14
    append(4);
    for (const o of [11, 12, 13, 14]) markers.add(o);
    await monitor.refresh();
    expect(await lag()).toBe(0);
    expect(reads).toEqual([10, 11]);
  });

  it('does not read a large gap while the position moves; reads it once the position stands still', async () => {
    const { monitor, lag, reads } = await setup({ records: 101, markers: [100] });
    monitor.advanced([{ topic: 'in', partition: 0, offset: 50 }]);
    await monitor.refresh();
    expect(await lag()).toBe(51);
    monitor.advanced([{ topic: 'in', partition: 0, offset: 80 }]);
    await monitor.refresh();
    expect(reads).toEqual([]);
    // a backlog the task does not take (paused, or slow): read once, a record is next, nothing skipped
    await monitor.refresh();
    expect(reads).toEqual([80]);
    expect(await lag()).toBe(21);
    monitor.advanced([{ topic: 'in', partition: 0, offset: 100 }]);
    await monitor.refresh();
    expect(await lag()).toBe(0);
  });

  it('counts the markers when the tail cannot be read, warning once', async () => {
    const { monitor, lag, fail, warn } = await setup({ records: 11, markers: [10] });
    fail(true);
    monitor.advanced([{ topic: 'in', partition: 0, offset: 10 }]);
    await monitor.refresh();
    expect(await lag()).toBe(1);
    await monitor.refresh();
    expect(warn).toHaveBeenCalledTimes(1);
    fail(false);
    await monitor.refresh();
    expect(await lag()).toBe(0);
  });
});

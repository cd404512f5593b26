/**
 * Sliding windows against tumbling windows, same input, same run, on the
 * memory transport (no broker: the figures are the windowing's own cost): N
 * events over K keys, 50 ms apart in event time, counted per key in 60 s
 * windows, each backend (memory, RocksDB) in turn. Every update reaches the
 * output topic; a run ends when the application is idle.
 *
 *   npx tsx bench/sliding-windows.ts [--records 100000] [--keys 1000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  MemoryTransport,
  Serdes,
  SlidingWindows,
  StreamsApplication,
  TimeWindows,
  TopologyBuilder,
  type WindowedStoreOptions,
} from '../topology/index.js';

type StoreType = NonNullable<WindowedStoreOptions['store']>;
const SIZE_MS = 60_000;
const GRACE_MS = 10_000;
const SPACING_MS = 50;

interface Run {
  readonly windows: 'sliding' | 'tumbling';
  readonly store: StoreType;
  readonly eventsPerSecond: number;
  readonly updates: number;
}

async function runOnce(
  windows: Run['windows'],
  store: StoreType,
  records: number,
  keys: number,
  stateDir: string,
): Promise<Run> {
  const builder = new TopologyBuilder();
  const grouped = builder.stream('events', { key: Serdes.string, value: Serdes.string }).groupByKey();
  const counts =
    windows === 'sliding'
      ? grouped
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(SIZE_MS, GRACE_MS))
          .count({ name: 'c', store })
      : grouped.windowedBy(TimeWindows.ofSizeAndGrace(SIZE_MS, GRACE_MS)).count({ name: 'c', store });
  counts.toStream().to('counts');
  const transport = new MemoryTransport();
  await transport.ensureTopics([
    { name: 'events', partitions: 1 },
    { name: 'counts', partitions: 1 },
  ]);
  for (let i = 0; i < records; i += 1)
    transport.log.append({
      topic: 'events',
      partition: 0,
      key: Buffer.from(`user-${i % keys}`),
      value: Buffer.from('e'),
      timestamp: i * SPACING_MS,
      headers: {},
    });
  const app = new StreamsApplication(builder.build(), {
    applicationId: `bench-${windows}-${store}`,
    transport,
    stateDir,
    defaultStoreType: store,
    logger: pino({ level: 'silent' }),
    metricsRegistry: new Registry(),
  });
  const started = performance.now();
  await app.start();
  transport.log.notify();
  let updates = -1;
  let lastUpdate = started;
  // done when no update arrived for 300 ms and nothing is in flight
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const now = transport.log.endOffsets('counts')[0] ?? 0;
    if (now !== updates) {
      updates = now;
      lastUpdate = performance.now();
    } else if (!app.busy() && performance.now() - lastUpdate > 300) break;
  }
  await app.stop();
  await transport.close();
  return {
    windows,
    store,
    eventsPerSecond: Math.round(records / ((lastUpdate - started) / 1000)),
    updates,
  };
}

export async function benchSlidingWindows(options: { records: number; keys: number }) {
  const stateDir = await mkdtemp(join(tmpdir(), 'veroai-bench-sliding-'));
  try {
    const runs: Run[] = [];
    for (const store of ['memory', 'rocksdb'] as const)
      for (const windows of ['tumbling', 'sliding'] as const) {
        process.stderr.write(`${windows} windows, ${store} store\n`);
        runs.push(await runOnce(windows, store, options.records, options.keys, stateDir));
      }
    const rate = (w: Run['windows'], s: StoreType) =>
      runs.find((r) => r.windows === w && r.store === s)!.eventsPerSecond;
    return {
      bench: 'sliding-windows',
      records: options.records,
      keys: options.keys,
      windowMs: SIZE_MS,
      runs,
      slidingToTumbling: {
        memory: Number((rate('sliding', 'memory') / rate('tumbling', 'memory')).toFixed(2)),
        rocksdb: Number((rate('sliding', 'rocksdb') / rate('tumbling', 'rocksdb')).toFixed(2)),
      },
    };
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const n = Number(process.argv[at + 1]);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive integer, got '${process.argv[at + 1]}'`);
  return n;
};

if (process.argv[1]?.endsWith('sliding-windows.ts')) {
  const result = await benchSlidingWindows({ records: flag('records', 100_000), keys: flag('keys', 1_000) });
  console.log(JSON.stringify(result));
}

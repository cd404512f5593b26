/**
 * What per-node process timing (`veroai_node_process_seconds`) costs: the
 * stateless bench's filter/mapValues topology on the memory transport (no
 * broker, so the engine's own cost is what is measured), in alternating
 * rounds with no batch timed, the default share timed, and every batch timed.
 *
 *   npx tsx bench/metrics-overhead.ts [--records 300000] [--rounds 3]
 *
 * Prints one JSON line: the best records/s of each mode and their ratios.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { MemoryTransport, Serdes, StreamsApplication, TopologyBuilder } from '../topology/index.js';
import { NodeTimer, TIMED_BATCH_SHARE } from '../topology/runtime/batch-graph.js';
import { type BenchEvent, event, keep, log } from './stateless.js';

type Mode = 'untimed' | 'sampled' | 'every-batch';

const timers: Record<Mode, () => NodeTimer> = {
  untimed: () => new NodeTimer(false),
  sampled: NodeTimer.forBatch,
  'every-batch': () => new NodeTimer(true),
};

async function round(mode: Mode, input: Buffer[], partitions: number): Promise<number> {
  // the runtime asks NodeTimer.forBatch for each batch's timer: swap it for this round
  NodeTimer.forBatch = timers[mode];
  const transport = new MemoryTransport();
  await transport.ensureTopics([
    { name: 'events', partitions },
    { name: 'kept', partitions },
  ]);
  input.forEach((value, i) => {
    transport.log.append({
      topic: 'events',
      partition: i % partitions,
      key: null,
      value,
      timestamp: 1_700_000_000_000 + i,
      headers: {},
    });
  });
  const builder = new TopologyBuilder();
  builder
    .stream('events', { key: Serdes.string, value: Serdes.json<BenchEvent>() })
    .filter(keep)
    .mapValues((e) => ({ ...e, enriched: true }), { value: Serdes.json<BenchEvent>() })
    .to('kept');
  const expected = input.filter((b) => keep(JSON.parse(b.toString()) as BenchEvent)).length;
  const app = new StreamsApplication(builder.build(), {
    applicationId: `bench-metrics-${mode}-${Date.now()}`,
    transport,
    logger: pino({ level: 'silent' }),
    metricsRegistry: new Registry(),
  });
  const started = performance.now();
  await app.start();
  const written = () => transport.log.endOffsets('kept').reduce((a, b) => a + b, 0);
  while (written() < expected) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - started) / 1000;
  await app.stop();
  await transport.close();
  return input.length / seconds;
}

export async function benchMetricsOverhead(options: { records: number; rounds: number; partitions: number }) {
  const input = Array.from({ length: options.records }, (_, i) => Buffer.from(JSON.stringify(event(i))));
  const original = NodeTimer.forBatch;
  const best: Record<Mode, number> = { untimed: 0, sampled: 0, 'every-batch': 0 };
  try {
    for (let r = 0; r < options.rounds; r++) {
      for (const mode of Object.keys(timers) as Mode[]) {
        const rate = await round(mode, input, options.partitions);
        log(`round ${r + 1} ${mode}: ${Math.round(rate)} rec/s`);
        best[mode] = Math.max(best[mode], rate);
      }
    }
  } finally {
    NodeTimer.forBatch = original;
  }
  return {
    bench: 'metrics-overhead',
    records: options.records,
    partitions: options.partitions,
    timedBatchShare: TIMED_BATCH_SHARE,
    untimedRecordsPerSecond: Math.round(best.untimed),
    sampledRecordsPerSecond: Math.round(best.sampled),
    everyBatchRecordsPerSecond: Math.round(best['every-batch']),
    sampledRatio: Number((best.sampled / best.untimed).toFixed(3)),
    everyBatchRatio: Number((best['every-batch'] / best.untimed).toFixed(3)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    const n = i < 0 ? fallback : Number(process.argv[i + 1]);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer`);
    return n;
  };
  const result = await benchMetricsOverhead({
    records: arg('records', 300_000),
    rounds: arg('rounds', 3),
    partitions: arg('partitions', 3),
  });
  console.log(JSON.stringify(result));
}

/**
 * Benchmarks. Not tests: each prints one JSON line on stdout (progress goes
 * to stderr) and asserts nothing about time.
 *
 *   npm run bench -- stateless [--records 1000000] [--rounds 2]
 *   npm run bench -- eos [--records 1000000]
 *   npm run bench -- restore [--records 1000000]
 *   npm run bench -- session [--records 1000000] [--spacing-ms 4]
 *   npm run bench -- session-count [--guarantee at_least_once|exactly_once] [--out-of-order 0.03] [--heap-mb 256] [--kafka-streams]
 *   npm run bench -- features-api [--entities 10000] [--rate 1000] [--seconds 20]
 *   npm run bench -- freshness [--rate 10000] [--seconds 30]
 *   npm run bench -- pipeline-drain [--events 500000] [--store rocksdb]
 *   npm run bench -- sliding [--records 100000] [--keys 1000]
 *   npm run bench -- canary [--runs 200] [--seed 1]
 *   npm run bench -- soc [--seeds 3] [--seed 1]
 */
import { Command, InvalidArgumentError } from 'commander';
import { deleteBenchTopics } from './bench-topics.js';
import { benchCanary } from './canary.js';
import { benchEos } from './eos.js';
import { benchFeaturesApi } from './features-api.js';
import { benchFreshness } from './freshness.js';
import { benchPipelineDrain } from './pipeline-drain.js';
import { benchRestore } from './restore.js';
import { benchSession } from './session.js';
import { benchSessionCount } from './session-count.js';
import { benchSlidingWindows } from './sliding-windows.js';
import { benchSoc } from './soc.js';
import { benchStateless, log } from './stateless.js';

/** A commander parser of integers from `min` up. */
const integerFrom =
  (min: number, expected: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected ${expected}`);
    return n;
  };
const positiveInt = integerFrom(1, 'a positive integer');
const nonNegativeInt = integerFrom(0, '0 or a positive integer');
const fraction = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1)
    throw new InvalidArgumentError('expected a fraction from 0 up to (not including) 1, e.g. 0.03');
  return n;
};
const guarantee = (value: string): 'at_least_once' | 'exactly_once' => {
  if (value !== 'at_least_once' && value !== 'exactly_once')
    throw new InvalidArgumentError('expected at_least_once or exactly_once');
  return value;
};

const storeType = (value: string): 'memory' | 'rocksdb' => {
  if (value !== 'memory' && value !== 'rocksdb') throw new InvalidArgumentError('expected memory or rocksdb');
  return value;
};

/**
 * A command's action: runs the bench with its options and prints its one JSON
 * line; then deletes the topics the run made (bench-topics.ts), also when it failed.
 */
const printing =
  <O>(bench: (options: O) => Promise<object>) =>
  async (options: O): Promise<void> => {
    try {
      console.log(JSON.stringify(await bench(options)));
    } finally {
      // a failure to clean up is reported, never in place of the bench's own failure
      await deleteBenchTopics().then(
        (deleted) => deleted > 0 && log(`deleted the run's ${deleted} topics`),
        (error: Error) => log(`could not delete the run's topics: ${error.message}`),
      );
    }
  };

/** A bench that reads or writes Redis, given REDIS_URL with its options. */
const withRedisUrl =
  <O>(bench: (options: O & { redisUrl: string }) => Promise<object>) =>
  (options: O) =>
    bench({ ...options, redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });

const program = new Command('bench')
  .description('VeroAI benchmarks: one JSON line per run on stdout')
  .showHelpAfterError();

program
  .command('stateless')
  .description('raw kafkajs consume→produce loop vs the same map/filter topology, on the local broker')
  .option('--records <n>', 'input records of about 200 bytes', positiveInt, 1_000_000)
  .option('--partitions <n>', 'partitions of the input and output topics', positiveInt, 3)
  .option('--rounds <n>', 'alternating raw/topology rounds; the best of each is reported', positiveInt, 2)
  .action(printing(benchStateless));

program
  .command('canary')
  .description(
    'the canary gate: each scenario through the gate in process, and false-rollback and detection rates over seeded rollouts judged after every window',
  )
  .option('--runs <n>', 'seeded rollouts per scenario for the rates', positiveInt, 200)
  .option('--seed <n>', 'first seed', positiveInt, 1)
  .action(printing(benchCanary));

program
  .command('soc')
  .description(
    'the security processors on every labelled scenario over seeded runs, attacks off the 30 s window grid, in process on the memory transport: precision, recall, false-positive rate, time to detect, auto-resolution, events/s vs clean telemetry alone',
  )
  .option('--seeds <n>', 'seeded runs of each scenario', positiveInt, 3)
  .option('--seed <n>', 'first seed', positiveInt, 1)
  .action(printing(benchSoc));

program
  .command('eos')
  .description('the stateless topology under exactly_once vs at_least_once, on the local broker')
  .option('--records <n>', 'input records of about 200 bytes', positiveInt, 1_000_000)
  .option('--partitions <n>', 'partitions of the input and output topics', positiveInt, 3)
  .action(printing(benchEos));

program
  .command('restore')
  .description(
    'restore rate from a changelog of N entries: in-memory and RocksDB stores, and a RocksDB tail restore from its checkpoint',
  )
  .option('--records <n>', 'changelog entries (distinct keys)', positiveInt, 1_000_000)
  .option('--partitions <n>', 'partitions of the input (and so of the changelog)', positiveInt, 3)
  .action(printing(benchRestore));

program
  .command('session')
  .description('session windows on RocksDB stores vs the stateless topology, same input, on the local broker')
  .option('--records <n>', 'events, over 100k users', positiveInt, 1_000_000)
  .option('--partitions <n>', 'partitions of the input and output topics', positiveInt, 3)
  .option(
    '--spacing-ms <n>',
    "event-time ms per input position: 4 puts a user's events 400 s apart (a session each), 1 puts them 100 s apart (merged)",
    positiveInt,
    4,
  )
  .option(
    '--heap-mb <n>',
    "V8 old-space bound of both topology processes (--max-old-space-size); 0: V8's default",
    nonNegativeInt,
    256,
  )
  .action(printing(benchSession));

program
  .command('session-count')
  .description(
    'a session count (5 min gap, RocksDB, suppress untilWindowCloses) over a seeded 1M-record, 100k-key input in a heap-bounded process: rate to zero lag, first commit, peak RSS, vs the raw client',
  )
  .option('--records <n>', 'input records', positiveInt, 1_000_000)
  .option('--keys <n>', 'distinct keys, drawn uniformly', positiveInt, 100_000)
  .option('--partitions <n>', 'partitions of the input and output topics', positiveInt, 3)
  .option('--span-minutes <n>', 'event time the input covers, advancing evenly', positiveInt, 60)
  .option('--out-of-order <fraction>', 'share of records shifted back by 1 s to twice the gap', fraction, 0)
  .option('--grace-ms <n>', 'session windows grace', nonNegativeInt, 0)
  .option('--guarantee <guarantee>', 'at_least_once or exactly_once', guarantee, 'at_least_once')
  .option(
    '--heap-mb <n>',
    "the measured process's --max-old-space-size (Kafka Streams: -Xmx); 0: the runtime's default",
    nonNegativeInt,
    256,
  )
  .option('--seed <n>', 'seed of the workload generator', nonNegativeInt, 42)
  .option('--timeout-s <n>', 'a run not at zero lag by then has failed', positiveInt, 900)
  .option(
    '--commit-interval-ms <n>',
    "how often either engine commits (the engine's default; zero lag is read from commits, so no finer than this)",
    positiveInt,
    1_000,
  )
  .option('--cpu-prof <dir>', "write a V8 CPU profile of the engine's process into <dir>")
  .option(
    '--alloc-prof <file>',
    "sample the engine's allocations, collected ones included, into <file> (.heapprofile)",
  )
  .option(
    '--node-options <flags>',
    "more flags for the engine's node process, e.g. '--max-semi-space-size=32'",
  )
  .option(
    '--input <topic>',
    'replay an input topic an earlier run wrote with the same workload options (no fill)',
  )
  .option('--kafka-streams', 'run the topology on Kafka Streams 3.9.1 (bench/kafka-streams) instead', false)
  .action(printing(benchSessionCount));

program
  .command('features-api')
  .description(
    'GET /v1/features latency at a steady rate vs raw ioredis HGETALL of the same hashes, same run',
  )
  .option('--entities <n>', 'feature hashes written to Redis and read round-robin', positiveInt, 10_000)
  .option('--rate <n>', 'requests per second, open loop', positiveInt, 1_000)
  .option('--seconds <n>', 'duration of each of the two runs', positiveInt, 20)
  .action(printing(withRedisUrl(benchFeaturesApi)));

program
  .command('freshness')
  .description(
    'event produced → feature readable in Redis, whole pipeline on the local broker, vs raw delivery',
  )
  .option('--rate <n>', 'events per second into raw_events', positiveInt, 10_000)
  .option('--warmup-seconds <n>', 'traffic without tracers before the measured part', nonNegativeInt, 5)
  .option('--seconds <n>', 'how long to produce tracers, after the warm-up', positiveInt, 30)
  .option(
    '--instances <n>',
    "instances of the pipeline's application (one group): this process and n-1 child processes",
    positiveInt,
    1,
  )
  .option(
    '--store <type>',
    "the pipeline's state stores: memory or rocksdb (veroai run's default)",
    storeType,
    'memory',
  )
  .action(printing(withRedisUrl(benchFreshness)));

program
  .command('pipeline-drain')
  .description(
    "the first pipeline's saturation rate: one instance works off a backlog of sample telemetry, vs a raw kafkajs consumer of it",
  )
  .option('--events <n>', 'sample events in the backlog', positiveInt, 500_000)
  .option('--store <type>', "the pipeline's state stores: memory or rocksdb", storeType, 'rocksdb')
  .option('--timeout-seconds <n>', 'give up when the backlog is not worked off by then', positiveInt, 900)
  .action(printing(withRedisUrl(benchPipelineDrain)));

program
  .command('sliding')
  .description('sliding vs tumbling window counts, memory and RocksDB stores, on the memory transport')
  .option('--records <n>', 'events', positiveInt, 100_000)
  .option('--keys <n>', 'distinct keys', positiveInt, 1_000)
  .action(printing(benchSlidingWindows));

await program.parseAsync();

/**
 * Benchmarks. Not tests: each prints one JSON line on stdout (progress goes
 * to stderr) and asserts nothing about time.
 *
 *   npm run bench -- stateless [--records 1000000] [--rounds 2]
 *   npm run bench -- eos [--records 1000000]
 *   npm run bench -- restore [--records 1000000]
 *   npm run bench -- session [--records 1000000] [--spacing-ms 4]
 *   npm run bench -- features-api [--entities 10000] [--rate 1000] [--seconds 20]
 *   npm run bench -- freshness [--rate 10000] [--seconds 30]
 *   npm run bench -- sliding [--records 100000] [--keys 1000]
 */
import { Command, InvalidArgumentError } from 'commander';
import { benchEos } from './eos.js';
import { benchFeaturesApi } from './features-api.js';
import { benchFreshness } from './freshness.js';
import { benchRestore } from './restore.js';
import { benchSession } from './session.js';
import { benchSlidingWindows } from './sliding-windows.js';
import { benchStateless } from './stateless.js';

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

/** A command's action: runs the bench with its options and prints its one JSON line. */
const printing =
  <O>(bench: (options: O) => Promise<object>) =>
  async (options: O): Promise<void> => {
    console.log(JSON.stringify(await bench(options)));
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
  .action(printing(withRedisUrl(benchFreshness)));

program
  .command('sliding')
  .description('sliding vs tumbling window counts, memory and RocksDB stores, on the memory transport')
  .option('--records <n>', 'events', positiveInt, 100_000)
  .option('--keys <n>', 'distinct keys', positiveInt, 1_000)
  .action(printing(benchSlidingWindows));

await program.parseAsync();

/**
 * Benchmarks. Not tests: each prints one JSON line on stdout (progress goes
 * to stderr) and asserts nothing about time.
 *
 *   npm run bench -- stateless [--records 1000000]
 */
import { Command, InvalidArgumentError } from 'commander';
import { benchStateless } from './stateless.js';

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

const program = new Command('bench')
  .description('VeroAI benchmarks: one JSON line per run on stdout')
  .showHelpAfterError();

program
  .command('stateless')
  .description('raw kafkajs consume→produce loop vs the same map/filter topology, on the local broker')
  .option('--records <n>', 'input records of about 200 bytes', positiveInt, 1_000_000)
  .option('--partitions <n>', 'partitions of the input and output topics', positiveInt, 3)
  .option('--rounds <n>', 'alternating raw/topology rounds; the best of each is reported', positiveInt, 2)
  .action(async (options: { records: number; partitions: number; rounds: number }) => {
    console.log(JSON.stringify(await benchStateless(options)));
  });

await program.parseAsync();

import { type Command, InvalidArgumentError } from 'commander';
import { ConfigError } from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { loadConfig } from '../config.js';
import { defaultTopology } from '../default-topology.js';
import { createLogger } from '../logger.js';

export function registerTopics(program: Command): void {
  const topics = program
    .command('topics')
    .description("manage the default topology's external topics on KAFKA_BROKERS");
  topics
    .command('create')
    .description(
      'create the input and output topics the default topology needs (internal topics are created by the application itself)',
    )
    .option('--partitions <n>', 'partitions per topic (default: each topic’s own)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
      return n;
    })
    .action(async (options: { partitions?: number }) => {
      const config = loadConfig();
      if (config.KAFKA_BROKERS === undefined)
        throw new ConfigError(
          'KAFKA_BROKERS: not set; expected a comma-separated list of host:port, e.g. 127.0.0.1:9092',
        );
      const transport = new KafkaTransport({
        brokers: config.KAFKA_BROKERS,
        clientId: `${config.APPLICATION_ID}-admin`,
        logger: createLogger(config.LOG_LEVEL),
      });
      try {
        const specs = defaultTopology(config).topics.map((t) => ({
          name: t.name,
          partitions: options.partitions ?? t.partitions,
        }));
        await transport.ensureTopics(specs);
        for (const s of specs) process.stdout.write(`${s.name}\t${s.partitions} partitions\n`);
      } finally {
        await transport.close();
      }
    });
}

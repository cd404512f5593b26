import { type Command, InvalidArgumentError } from 'commander';
import { telemetryEventSerde } from '../../schemas/index.js';
import { ConfigError, partitionForKey } from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { SampleTraffic } from '../sample-traffic.js';

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

interface ProduceOptions {
  sample: number;
  topic: string;
  seed: number;
  tenants: number;
  users: number;
}

export function registerProduce(program: Command): void {
  program
    .command('produce')
    .description(
      'write synthetic TelemetryEvents (several tenants, users, event types, sessions, errors) to a Kafka topic at KAFKA_BROKERS',
    )
    .requiredOption('--sample <n>', 'how many events to write', positiveInt)
    .option('--topic <name>', 'destination topic', 'raw_events')
    .option('--seed <n>', 'generator seed: the same seed writes the same events', positiveInt, 7)
    .option('--tenants <n>', 'distinct tenants', positiveInt, 4)
    .option('--users <n>', 'users per tenant', positiveInt, 50)
    .action(async (options: ProduceOptions) => {
      const config = loadConfig();
      if (config.KAFKA_BROKERS === undefined)
        throw new ConfigError(
          'KAFKA_BROKERS: not set; expected a comma-separated list of host:port, e.g. 127.0.0.1:9092',
        );
      const logger = createLogger(config.LOG_LEVEL);
      const transport = new KafkaTransport({
        brokers: config.KAFKA_BROKERS,
        clientId: `${config.APPLICATION_ID}-producer`,
        logger,
      });
      try {
        const partitions = await transport.partitionCount(options.topic);
        if (partitions === undefined)
          throw new ConfigError(
            `topic '${options.topic}' does not exist on ${config.KAFKA_BROKERS.join(',')}; create it with: veroai topics create`,
          );
        const serde = telemetryEventSerde(
          config.SCHEMA_REGISTRY_URL === undefined ? {} : { registryUrl: config.SCHEMA_REGISTRY_URL },
        );
        await serde.prepare?.(options.topic);
        const producer = await transport.producer();
        const traffic = new SampleTraffic({
          seed: options.seed,
          tenants: options.tenants,
          usersPerTenant: options.users,
          startTime: Date.now() - 60_000,
        });
        let written = 0;
        while (written < options.sample) {
          const events = traffic.take(Math.min(5_000, options.sample - written));
          await producer.send(
            events.map((event) => {
              const key = Buffer.from(traffic.key(event));
              return {
                topic: options.topic,
                partition: partitionForKey(key, partitions, () => 0),
                key,
                value: serde.serialize(event, options.topic),
                timestamp: event.timestamp,
              };
            }),
          );
          written += events.length;
        }
        process.stdout.write(`${JSON.stringify({ topic: options.topic, written, partitions })}\n`);
      } finally {
        await transport.close();
      }
    });
}

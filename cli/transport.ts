import type { Logger } from 'pino';
import { ConfigError, MemoryTransport, type Transport } from '../topology/index.js';
import { KafkaTransport } from '../topology/transports/kafka/index.js';
import type { AppConfig } from './config.js';

/** The transport the configuration asks for: the embedded memory log, or a Kafka cluster. */
export function transportFor(config: AppConfig, logger: Logger): Transport {
  if (config.TRANSPORT === 'memory') return new MemoryTransport();
  if (config.KAFKA_BROKERS === undefined)
    throw new ConfigError(
      'KAFKA_BROKERS: required when TRANSPORT=kafka: a comma-separated list of host:port',
    );
  return new KafkaTransport({ brokers: config.KAFKA_BROKERS, clientId: config.APPLICATION_ID, logger });
}

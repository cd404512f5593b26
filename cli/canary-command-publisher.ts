import type { CanaryCommandPublisher } from '../api/routes/canary.js';
import { type CanaryCommand, rolloutKeyOf } from '../schemas/index.js';
import { partitionForKey, type Serde, type Transport, VeroaiError } from '../topology/index.js';

type TransportProducer = Awaited<ReturnType<Transport['producer']>>;

export interface TransportCanaryCommandPublisherOptions {
  /** The application's transport (kafka or memory). */
  readonly transport: Transport;
  /** `canaryCommandSerde(…)` (schemas/index.ts): Avro, the wire format the gate reads. */
  readonly serde: Serde<CanaryCommand>;
  /** Default `canary_commands`. */
  readonly topic?: string;
}

/**
 * Publishes the query API's rollout commands to `canary_commands` through
 * the engine's transport: keyed `tenantId/service` (rolloutKeyOf) and put on
 * the partition Kafka's default partitioner gives that key (murmur2), the
 * partition whose task holds the rollout; stamped with the command's time.
 * The producer is opened at the first command and kept; `close()` closes it.
 *
 * Failures are catalogue errors: the topic missing is `VEROAI_ERR_TOPOLOGY`;
 * the log unreachable is `VEROAI_ERR_KAFKA_UNREACHABLE` (retriable, the API
 * answers 503), and the next command opens the producer again.
 * @example
 * const canaryCommands = new TransportCanaryCommandPublisher({ transport, serde: canaryCommandSerde(serdeOptions) });
 * await buildApiServer({ …, canaryDecisions, canaryCommands });
 * … await canaryCommands.close();
 */
export class TransportCanaryCommandPublisher implements CanaryCommandPublisher {
  private readonly topic: string;
  private ready: Promise<{ producer: TransportProducer; partitions: number }> | undefined;
  private closed = false;

  constructor(private readonly options: TransportCanaryCommandPublisherOptions) {
    this.topic = options.topic ?? 'canary_commands';
  }

  async publish(command: CanaryCommand): Promise<void> {
    if (this.closed)
      throw new VeroaiError('VEROAI_ERR_UNAVAILABLE', 'canary commands: the publisher is closed');
    const { transport, serde } = this.options;
    try {
      const { producer, partitions } = await this.open();
      const key = Buffer.from(rolloutKeyOf(command.tenantId, command.service));
      await producer.send([
        {
          topic: this.topic,
          partition: partitionForKey(key, partitions, () => 0),
          key,
          value: serde.serialize(command, this.topic),
          timestamp: command.issuedAt,
        },
      ]);
    } catch (error) {
      if (error instanceof VeroaiError) throw error;
      if (transport.unreachable?.(error)) {
        // a producer that lost the brokers is opened again by the next command
        this.ready = undefined;
        throw new VeroaiError(
          'VEROAI_ERR_KAFKA_UNREACHABLE',
          `canary command '${command.kind}' of rollout '${command.rolloutId}' could not be written to '${this.topic}': ${(error as Error).message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const ready = this.ready;
    this.ready = undefined;
    if (ready !== undefined) await ready.then(({ producer }) => producer.close()).catch(() => undefined);
  }

  private open(): Promise<{ producer: TransportProducer; partitions: number }> {
    if (this.ready !== undefined) return this.ready;
    const opening = (async () => {
      const { transport, serde } = this.options;
      const partitions = await transport.partitionCount(this.topic);
      if (partitions === undefined)
        throw new VeroaiError(
          'VEROAI_ERR_TOPOLOGY',
          `canary commands: topic '${this.topic}' does not exist`,
          {
            hint: "create the application's topics (veroai topics create), or run with the canary gate enabled",
          },
        );
      await serde.prepare?.(this.topic);
      return { producer: await transport.producer(), partitions };
    })();
    this.ready = opening;
    // a failed opening is tried again by the next command
    opening.catch(() => {
      if (this.ready === opening) this.ready = undefined;
    });
    return opening;
  }
}

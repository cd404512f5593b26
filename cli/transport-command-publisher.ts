import { partitionForKey, type Serde, type Transport, VeroaiError } from '../topology/index.js';

type TransportProducer = Awaited<ReturnType<Transport['producer']>>;

/** What a command topic is, for a TransportCommandPublisher. */
export interface CommandTopic<C> {
  /** The topic, e.g. `canary_commands`. */
  readonly topic: string;
  /** What the commands are, in errors, e.g. `canary commands`. */
  readonly name: string;
  /** The record key: the key the processor reading the topic partitions its state by. */
  keyOf(command: C): string;
  /** The record timestamp: the command's time. */
  timeOf(command: C): number;
  /** One command, in errors, e.g. `canary command 'start' of rollout 'r1'`. */
  describe(command: C): string;
  /** What to do when the topic does not exist. */
  readonly missingTopicHint: string;
}

export interface TransportCommandPublisherOptions<C> {
  /** The application's transport (kafka or memory). */
  readonly transport: Transport;
  /** The topic's value serde (schemas/index.ts), e.g. Avro: the wire format its processor reads. */
  readonly serde: Serde<C>;
  readonly commands: CommandTopic<C>;
}

/**
 * Publishes the query API's commands to a command topic through the
 * engine's transport: keyed as the topic's processor partitions them and put
 * on the partition Kafka's default partitioner gives that key (murmur2), the
 * partition whose task holds the thing commanded; stamped with the command's
 * time. The producer is opened at the first command and kept; `close()`
 * closes it.
 *
 * Failures are catalogue errors: the topic missing is `VEROAI_ERR_TOPOLOGY`;
 * the log unreachable is `VEROAI_ERR_KAFKA_UNREACHABLE` (retriable, the API
 * answers 503), and the next command opens the producer again; a publisher
 * closed is `VEROAI_ERR_UNAVAILABLE`.
 * Specialised by TransportCanaryCommandPublisher and TransportIncidentCommandPublisher.
 */
export class TransportCommandPublisher<C> {
  private ready: Promise<{ producer: TransportProducer; partitions: number }> | undefined;
  private closed = false;

  constructor(private readonly options: TransportCommandPublisherOptions<C>) {}

  /** The topic commands go to. */
  get topic(): string {
    return this.options.commands.topic;
  }

  /** Resolves once the log acknowledged the command. */
  async publish(command: C): Promise<void> {
    const { transport, serde, commands } = this.options;
    if (this.closed)
      throw new VeroaiError('VEROAI_ERR_UNAVAILABLE', `${commands.name}: the publisher is closed`);
    try {
      const { producer, partitions } = await this.open();
      const key = Buffer.from(commands.keyOf(command));
      await producer.send([
        {
          topic: commands.topic,
          partition: partitionForKey(key, partitions, () => 0),
          key,
          value: serde.serialize(command, commands.topic),
          timestamp: commands.timeOf(command),
        },
      ]);
    } catch (error) {
      if (error instanceof VeroaiError) throw error;
      if (transport.unreachable?.(error)) {
        // a producer that lost the brokers is opened again by the next command
        this.ready = undefined;
        throw new VeroaiError(
          'VEROAI_ERR_KAFKA_UNREACHABLE',
          `${commands.describe(command)} could not be written to '${commands.topic}': ${(error as Error).message}`,
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
      const { transport, serde, commands } = this.options;
      const partitions = await transport.partitionCount(commands.topic);
      if (partitions === undefined)
        throw new VeroaiError(
          'VEROAI_ERR_TOPOLOGY',
          `${commands.name}: topic '${commands.topic}' does not exist`,
          {
            hint: commands.missingTopicHint,
          },
        );
      await serde.prepare?.(commands.topic);
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

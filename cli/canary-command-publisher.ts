import type { CanaryCommandPublisher } from '../api/routes/canary.js';
import { type CanaryCommand, rolloutKeyOf } from '../schemas/index.js';
import type { Serde, Transport } from '../topology/index.js';
import { TransportCommandPublisher } from './transport-command-publisher.js';

export interface TransportCanaryCommandPublisherOptions {
  /** The application's transport (kafka or memory). */
  readonly transport: Transport;
  /** `canaryCommandSerde(…)` (schemas/index.ts): Avro, the wire format the gate reads. */
  readonly serde: Serde<CanaryCommand>;
  /** Default `canary_commands`. */
  readonly topic?: string;
}

/**
 * Publishes the query API's rollout commands to `canary_commands` (a
 * TransportCommandPublisher): keyed `tenantId/service` (rolloutKeyOf), the
 * key the canary gate partitions rollouts by; stamped with the command's time.
 * @example
 * const canaryCommands = new TransportCanaryCommandPublisher({ transport, serde: canaryCommandSerde(serdeOptions) });
 * await buildApiServer({ …, canaryDecisions, canaryCommands });
 * … await canaryCommands.close();
 */
export class TransportCanaryCommandPublisher
  extends TransportCommandPublisher<CanaryCommand>
  implements CanaryCommandPublisher
{
  constructor(options: TransportCanaryCommandPublisherOptions) {
    super({
      transport: options.transport,
      serde: options.serde,
      commands: {
        topic: options.topic ?? 'canary_commands',
        name: 'canary commands',
        keyOf: (command) => rolloutKeyOf(command.tenantId, command.service),
        timeOf: (command) => command.issuedAt,
        describe: (command) => `canary command '${command.kind}' of rollout '${command.rolloutId}'`,
        missingTopicHint:
          "create the application's topics (veroai topics create), or run with the canary gate enabled",
      },
    });
  }
}

import type { IncidentCommandPublisher } from '../api/routes/incidents.js';
import type { IncidentCommand } from '../schemas/index.js';
import type { Serde, Transport } from '../topology/index.js';
import { TransportCommandPublisher } from './transport-command-publisher.js';

export interface TransportIncidentCommandPublisherOptions {
  /** The application's transport (kafka or memory). */
  readonly transport: Transport;
  /** `incidentCommandSerde(…)` (schemas/index.ts): Avro, the wire format the incident processor reads. */
  readonly serde: Serde<IncidentCommand>;
  /** Default `incident_commands`. */
  readonly topic?: string;
}

/**
 * Publishes the query API's incident commands (a person's close) to
 * `incident_commands` (a TransportCommandPublisher): keyed by incidentId,
 * which names the incident's entity, so the command reaches the task that
 * holds the incident; stamped with the command's time.
 * @example
 * const incidentCommands = new TransportIncidentCommandPublisher({ transport, serde: incidentCommandSerde(serdeOptions) });
 * await buildApiServer({ …, incidents, incidentCommands });
 * … await incidentCommands.close();
 */
export class TransportIncidentCommandPublisher
  extends TransportCommandPublisher<IncidentCommand>
  implements IncidentCommandPublisher
{
  constructor(options: TransportIncidentCommandPublisherOptions) {
    super({
      transport: options.transport,
      serde: options.serde,
      commands: {
        topic: options.topic ?? 'incident_commands',
        name: 'incident commands',
        keyOf: (command) => command.incidentId,
        timeOf: (command) => command.issuedAt,
        describe: (command) => `incident command '${command.action}' of incident '${command.incidentId}'`,
        missingTopicHint:
          "create the application's topics (veroai topics create), or run with the incidents processor enabled",
      },
    });
  }
}

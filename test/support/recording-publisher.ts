import { VeroaiError } from '../../topology/index.js';

/** A command publisher for route tests: records what the routes publish, in order; fails while `down`. */
export class RecordingPublisher<C> {
  readonly published: C[] = [];
  down = false;

  async publish(command: C): Promise<void> {
    if (this.down) throw new VeroaiError('VEROAI_ERR_KAFKA_UNREACHABLE', 'brokers down');
    this.published.push(command);
  }
}

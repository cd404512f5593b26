import type { SessionCountOptions } from './session-count.js';
import type { SessionCountJob } from './session-count-child.js';

export function kafkaStreamsInChild(_job: SessionCountJob, _options: SessionCountOptions): never {
  throw new Error('not yet');
}

import { MemoryTransport, Serdes, StreamsApplication, TopologyBuilder } from '../../topology/index.js';

/**
 * A StreamsApplication that is never started, on a memory transport: what
 * buildApiServer needs for its operations routes when a test is about the
 * data routes.
 */
export function idleApp(applicationId: string): StreamsApplication {
  const builder = new TopologyBuilder();
  builder
    .stream(`${applicationId}-in`, { key: Serdes.string, value: Serdes.string })
    .to(`${applicationId}-out`);
  return new StreamsApplication(builder.build(), { applicationId, transport: new MemoryTransport() });
}

/**
 * Partitions the group assigns once the application's stop has begun get no
 * task: the application is leaving the group, and a task made then would
 * open and restore its stores (and under exactly_once fence a producer) only
 * to be closed again. Memory transport, with a second member of the group
 * that leaves while the application stops.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MemoryTransport,
  type ProcessorContext,
  type RecordProcessor,
  Serdes,
  type StreamRecord,
  StreamsApplication,
  TopologyBuilder,
} from '../../../topology/index.js';
import type {
  ConsumerListener,
  ConsumerOptions,
  TransportConsumer,
} from '../../../topology/transports/transport.js';

const silent = pino({ level: 'silent' });
const apps: StreamsApplication[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop().catch(() => undefined);
});

/** A memory transport whose consumers tell `assigned` each assignment once the application has handled it. */
class AssignmentWatchingTransport extends MemoryTransport {
  assigned: () => void = () => undefined;

  override consumer(options: ConsumerOptions): TransportConsumer {
    const inner = super.consumer(options);
    return {
      start: (listener: ConsumerListener) =>
        inner.start({
          ...listener,
          onAssigned: async (tps) => {
            await listener.onAssigned(tps);
            this.assigned();
          },
        }),
      pause: (tps) => inner.pause(tps),
      resume: (tps) => inner.resume(tps),
      commit: (offsets) => inner.commit(offsets),
      stop: () => inner.stop(),
    };
  }
}

describe('an assignment during stop()', () => {
  it('creates no task', async () => {
    const transport = new AssignmentWatchingTransport();
    await transport.ensureTopics([
      { name: 'in', partitions: 2 },
      { name: 'out', partitions: 2 },
    ]);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let handed: () => void = () => undefined;
    const blocking = new Promise<void>((resolve) => {
      handed = resolve;
    });
    const builder = new TopologyBuilder();
    builder
      .stream('in', { key: Serdes.string, value: Serdes.number })
      .process(
        (context: ProcessorContext): RecordProcessor<string, number> => ({
          async process(record: StreamRecord<string, number>) {
            handed();
            await released;
            context.forward(record);
          },
        }),
        { name: 'waits' },
      )
      .to('out', { key: Serdes.string, value: Serdes.number });
    const applicationId = `assign-stop-${Math.random().toString(36).slice(2)}`;
    // another instance of the application: it owns partition 0 until it leaves the group
    const other = transport.consumer({ groupId: applicationId, topics: ['in'] });
    await other.start({ onAssigned: async () => {}, onRevoked: async () => {}, onBatch: async () => {} });
    const app = new StreamsApplication(builder.build(), { applicationId, transport, logger: silent });
    apps.push(app);
    /** The application's state and tasks after each assignment it handled. */
    const handled: Array<{ state: string; tasks: string[] }> = [];
    transport.assigned = () =>
      handled.push({ state: app.state, tasks: [...app.activeTasks().keys()].sort() });
    await app.start();
    expect(handled).toEqual([{ state: 'starting', tasks: ['0_1'] }]);

    // a batch of partition 1 in progress holds the application's consumer: the assignment the other
    // instance's departure brings is handled once the batch is done, the stop begun meanwhile
    transport.log.append({
      topic: 'in',
      partition: 1,
      key: Buffer.from('k'),
      value: Serdes.number.serialize(1, 'in'),
      timestamp: 1,
    });
    transport.log.notify();
    await blocking;
    const otherLeft = other.stop();
    const stopped = app.stop();
    expect(app.state).toBe('stopping');
    release();
    await Promise.all([otherLeft, stopped]);

    expect(handled).toEqual([
      { state: 'starting', tasks: ['0_1'] },
      { state: 'stopping', tasks: ['0_1'] },
    ]);
    expect(app.state).toBe('stopped');
  }, 20_000);
});

/**
 * `/health/ready` while a running application restores the state of
 * partitions the group has just given it: not ready (503, `restoring`) until
 * their tasks are restored, then ready. Memory transport: a second member of
 * the group leaves, and its partition's changelog is read only when the test
 * says so.
 */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../../api/index.js';
import {
  MemoryTransport,
  Serdes,
  type SourceRecord,
  StreamsApplication,
  TopologyBuilder,
} from '../../../topology/index.js';

const silent = pino({ level: 'silent' });
const closing: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close().catch(() => undefined);
});

/** A memory transport whose changelog reads (restores) wait until `release()` once `hold()` was called. */
class HeldRestoreTransport extends MemoryTransport {
  private held: Promise<void> | undefined;
  release: () => void = () => undefined;
  /** Resolves when a restore has begun reading and waits. */
  restoreWaiting: Promise<void> = new Promise(() => undefined);
  private waiting: () => void = () => undefined;

  hold(): void {
    this.held = new Promise((resolve) => {
      this.release = resolve;
    });
    this.restoreWaiting = new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  override async *readPartitions(
    topic: string,
    fromOffsets: ReadonlyMap<number, number>,
  ): AsyncIterable<SourceRecord[]> {
    if (this.held !== undefined) {
      this.waiting();
      await this.held;
    }
    yield* super.readPartitions(topic, fromOffsets);
  }
}

async function ready(api: FastifyInstance): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await api.inject({ method: 'GET', url: '/health/ready' });
  return { status: response.statusCode, body: response.json() };
}

describe('/health/ready', () => {
  it('answers 503 while a running application restores newly assigned tasks, 200 once they are restored', async () => {
    const transport = new HeldRestoreTransport();
    await transport.ensureTopics([{ name: 'in', partitions: 2 }]);
    const builder = new TopologyBuilder();
    builder.stream('in', { key: Serdes.string, value: Serdes.number }).groupByKey().count({ name: 'counts' });
    const applicationId = `ready-${Math.random().toString(36).slice(2)}`;
    // another instance of the application: it owns partition 0 until it leaves the group
    const other = transport.consumer({ groupId: applicationId, topics: ['in'] });
    await other.start({ onAssigned: async () => {}, onRevoked: async () => {}, onBatch: async () => {} });
    closing.push(() => other.stop());
    const app = new StreamsApplication(builder.build(), { applicationId, transport, logger: silent });
    closing.push(() => app.stop());
    await app.start();
    const api = await buildApiServer({ registry: app.registry, app, logger: silent });
    closing.push(() => api.close());
    expect(await ready(api)).toMatchObject({ status: 200, body: { status: 'ready', tasks: 1 } });

    // what the other instance counted on partition 0: the application restores it when it takes the partition
    const changelog = `${applicationId}-counts-changelog`;
    transport.log.append({
      topic: changelog,
      partition: 0,
      key: Serdes.string.serialize('acme', changelog),
      value: Serdes.number.serialize(41, changelog),
      timestamp: 1,
    });
    transport.hold();
    closing.push(async () => transport.release());
    const otherLeft = other.stop();
    await transport.restoreWaiting;
    expect(app.state).toBe('running');
    expect(await ready(api)).toMatchObject({
      status: 503,
      body: { status: 'not_ready', state: 'running', restoring: true },
    });

    transport.release();
    await otherLeft;
    expect(
      app
        .localStores('counts')
        .map((s) => s.partition)
        .sort(),
    ).toEqual([0, 1]);
    expect(await ready(api)).toMatchObject({ status: 200, body: { status: 'ready', tasks: 2 } });
  }, 20_000);
});

/**
 * StreamsApplication.stop() on the memory transport: bounded by
 * stopTimeoutMs, an end to a start-up in progress, and after a fatal error a
 * teardown that commits nothing.
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
  VeroaiError,
} from '../../../topology/index.js';
import { until } from '../../support/until.js';

const silent = pino({ level: 'silent' });
const apps: StreamsApplication[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop().catch(() => undefined);
});

/** A topology whose processor never finishes the record with value 3 (a sink retrying through an outage). */
function blockingTopology(seen: (value: number) => void) {
  const builder = new TopologyBuilder();
  builder
    .stream('in', { key: Serdes.string, value: Serdes.number })
    .process(
      (context: ProcessorContext): RecordProcessor<string, number> => ({
        async process(record: StreamRecord<string, number>) {
          seen(record.value);
          if (record.value === 3) await new Promise(() => undefined);
          context.forward(record);
        },
      }),
      { name: 'blocks-on-3' },
    )
    .to('out', { key: Serdes.string, value: Serdes.number });
  return builder.build();
}

async function setUp(options: { stopTimeoutMs?: number } = {}) {
  const transport = new MemoryTransport();
  await transport.ensureTopics([
    { name: 'in', partitions: 1 },
    { name: 'out', partitions: 1 },
  ]);
  const seen: number[] = [];
  const waiting = new Map<number, () => void>();
  const app = new StreamsApplication(
    blockingTopology((value) => {
      seen.push(value);
      waiting.get(value)?.();
    }),
    {
      applicationId: `stop-${Math.random().toString(36).slice(2)}`,
      transport,
      commitIntervalMs: 10,
      logger: silent,
      ...options,
    },
  );
  apps.push(app);
  const append = (value: number) => {
    transport.log.append({
      topic: 'in',
      partition: 0,
      key: Buffer.from('k'),
      value: Serdes.number.serialize(value, 'in'),
      timestamp: value,
    });
    transport.log.notify();
  };
  /** Resolves once the processor has been handed `value` (bounded). */
  const handed = (value: number) =>
    seen.includes(value)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`value ${value} never processed`)), 10_000);
          waiting.set(value, () => {
            clearTimeout(timer);
            resolve();
          });
        });
  const committed = () => transport.log.committed(app.applicationId, 'in', 0);
  return { app, transport, append, handed, committed };
}

describe('StreamsApplication.stop()', () => {
  it('past stopTimeoutMs abandons the batch in flight uncommitted and rejects with VEROAI_ERR_STOP_TIMEOUT', async () => {
    const { app, append, handed, committed } = await setUp({ stopTimeoutMs: 200 });
    await app.start();
    append(1);
    append(2);
    await until(() => committed() === 2, 'offsets of 1 and 2 committed');
    append(3);
    await handed(3);
    const started = Date.now();
    const stopped = await app.stop().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(stopped).toBeInstanceOf(VeroaiError);
    expect((stopped as VeroaiError).code).toBe('VEROAI_ERR_STOP_TIMEOUT');
    expect((stopped as VeroaiError).message).toMatch(/within 200 ms .*in flight abandoned uncommitted/);
    // the deadline, plus at most the grace of the closing steps (the memory consumer waits for its batch)
    expect(Date.now() - started).toBeLessThan(200 + 5_000 + 2_000);
    expect(app.state).toBe('stopped');
    expect(committed()).toBe(2);
    // every call gets the same outcome
    await expect(app.stop()).rejects.toBe(stopped);
  }, 20_000);

  it('finishes a batch that finishes within the deadline, commits it and resolves', async () => {
    const { app, append, handed, committed } = await setUp({ stopTimeoutMs: 5_000 });
    await app.start();
    append(1);
    await handed(1);
    await app.stop();
    expect(app.state).toBe('stopped');
    expect(committed()).toBe(1);
  });

  it('called during start(), ends the start-up: the application never runs', async () => {
    const { app } = await setUp();
    const states: string[] = [];
    app.on('state', (state: string) => states.push(state));
    const starting = app.start();
    await app.stop();
    await starting;
    expect(states).toEqual(['starting', 'stopping', 'stopped']);
    expect(app.activeTasks().size).toBe(0);
  });

  it('after a fatal error: reported once, nothing in flight waited for, nothing committed, the state stays failed', async () => {
    const { app, append, handed, committed } = await setUp({ stopTimeoutMs: 60_000 });
    const errors: unknown[] = [];
    app.on('error', (error) => errors.push(error));
    await app.start();
    append(1);
    await until(() => committed() === 1, 'offset of 1 committed');
    append(3);
    await handed(3);
    const cause = new Error('the sink is down past its retries');
    app.fail(cause);
    app.fail(new Error('a second report'));
    const started = Date.now();
    await app.stop();
    // the blocked batch is not waited for (60 s deadline), only the memory consumer's grace at most
    expect(Date.now() - started).toBeLessThan(5_000 + 2_000);
    expect(errors).toEqual([cause]);
    expect(app.state).toBe('failed');
    expect(committed()).toBe(1);
    expect(app.activeTasks().size).toBe(0);
  }, 20_000);
});

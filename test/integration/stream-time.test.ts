/**
 * Stream time survives a restart on the real broker: it travels in the
 * metadata of the committed offsets (consumer commits under at_least_once,
 * the transaction's sendOffsets under exactly_once) and is restored on
 * assignment. A record that was late before the restart is late after it; a
 * window closed before it is not recreated; suppress emits one final.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import {
  type ProcessingGuarantee,
  Serdes,
  StreamsApplication,
  Suppressed,
  TimeWindows,
  TopologyBuilder,
  type Windowed,
  windowedSerde,
} from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { produce, readTopic, untilCaughtUp } from '../support/kafka-io.js';

let brokers: string[];
let transport: KafkaTransport;

beforeAll(async () => {
  brokers = await ensureKafka();
  transport = new KafkaTransport({ brokers, clientId: 'stream-time-test' });
});
afterAll(async () => {
  await transport.close();
});

const T0 = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
const keys = windowedSerde(Serdes.string);

async function run(guarantee: ProcessingGuarantee, input: string, output: string, applicationId: string) {
  const builder = new TopologyBuilder();
  builder
    .stream(input, { key: Serdes.string, value: Serdes.string })
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 0))
    .count({ name: 'counts' })
    .suppress(Suppressed.untilWindowCloses(), { name: 'final-counts' })
    .toStream()
    .to(output, { key: keys, value: Serdes.number });
  const app = new StreamsApplication(builder.build(), {
    applicationId,
    transport,
    processingGuarantee: guarantee,
    commitIntervalMs: 100,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    metricsRegistry: new Registry(),
  });
  await app.start();
  return app;
}

async function finals(output: string): Promise<Array<{ key: string; start: number; count: number }>> {
  const out: Array<{ key: string; start: number; count: number }> = [];
  for (const r of await readTopic(brokers, output, { toEnd: true })) {
    const key = (await keys.deserialize(r.rawKey, output)) as Windowed<string>;
    out.push({ key: key.key, start: key.window.start, count: Number(r.value!.toString()) });
  }
  return out;
}

describe('stream time across restarts (real broker)', () => {
  for (const guarantee of ['at_least_once', 'exactly_once'] as const) {
    it(`${guarantee}: a record late before a restart is late after it; suppress emits one final`, async () => {
      const input = uniqueName('st-in');
      const output = uniqueName('st-out');
      await createTopic(brokers, input, 1);
      await createTopic(brokers, output, 1);
      const applicationId = uniqueName(`st-${guarantee}`);

      let app = await run(guarantee, input, output, applicationId);
      await produce(brokers, input, [
        { key: 'a', value: '1', timestamp: T0 + 1_000 },
        { key: 'a', value: '2', timestamp: T0 + 2_000 },
        { key: 'a', value: '3', timestamp: T0 + 5 * 60_000 },
      ]);
      await untilCaughtUp(brokers, applicationId, [input], 60_000);
      await app.stop();
      expect(await finals(output)).toEqual([{ key: 'a', start: T0, count: 2 }]);

      app = await run(guarantee, input, output, applicationId);
      await produce(brokers, input, [{ key: 'a', value: '4', timestamp: T0 + 3_000 }]);
      await untilCaughtUp(brokers, applicationId, [input], 60_000);
      await app.stop();
      // the window [T0, T0 + 1 min) closed before the restart: no second final
      expect(await finals(output)).toEqual([{ key: 'a', start: T0, count: 2 }]);
      const late = await readTopic(brokers, `${applicationId}-late`, { toEnd: true });
      expect(late.map((r) => r.value?.toString())).toEqual(['4']);
    }, 180_000);
  }
});

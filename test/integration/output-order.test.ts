/**
 * Output order on the real broker: records of one input partition reach each
 * output partition in the order they were processed, under at_least_once,
 * across output requests large enough to be cut into several produce
 * requests. Checked record by record against the input's order.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';
import { Serdes, StreamsApplication, TopologyBuilder } from '../../topology/index.js';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';
import { produce, readTopic, untilCaughtUp } from '../support/kafka-io.js';

interface Item {
  /** Input partition. */
  p: number;
  /** Position in its input partition. */
  seq: number;
  /** Padding, so that a batch's output is cut into several produce requests. */
  pad: string;
}

const RECORDS_PER_PARTITION = 70_000;
const PARTITIONS = 3;
const items = Serdes.json<Item>();
let brokers: string[];
const transports: KafkaTransport[] = [];

beforeAll(async () => {
  brokers = await ensureKafka();
});

afterAll(async () => {
  for (const t of transports.splice(0)) await t.close().catch(() => undefined);
});

describe('output order on a real broker', () => {
  it(`at_least_once keeps each input partition's order in every output partition (${RECORDS_PER_PARTITION * PARTITIONS} records)`, async () => {
    const input = uniqueName('order-in');
    const output = uniqueName('order-out');
    await createTopic(brokers, input, PARTITIONS);
    await createTopic(brokers, output, PARTITIONS);
    const pad = 'x'.repeat(300);
    // 2,000 records a request: a partition's share of a request stays under the broker's 1 MiB batch limit
    for (let p = 0; p < PARTITIONS; p++) {
      for (let from = 0; from < RECORDS_PER_PARTITION; from += 2_000) {
        await produce(
          brokers,
          input,
          Array.from({ length: Math.min(2_000, RECORDS_PER_PARTITION - from) }, (_, i) => ({
            key: `k${(from + i) % 997}`,
            value: JSON.stringify({ p, seq: from + i, pad }),
            partition: p,
          })),
        );
      }
    }
    const builder = new TopologyBuilder();
    // re-keyed: every input partition writes to every output partition
    builder
      .stream(input, { key: Serdes.string, value: items })
      .map((item) => ({ key: `${item.p}/${item.seq % 1009}`, value: item }), {
        key: Serdes.string,
        value: items,
      })
      .to(output);
    const transport = new KafkaTransport({ brokers, clientId: 'order-test' });
    transports.push(transport);
    const applicationId = uniqueName('order-app');
    const app = new StreamsApplication(builder.build(), {
      applicationId,
      transport,
      commitIntervalMs: 200,
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      metricsRegistry: new Registry(),
    });
    await app.start();
    try {
      await untilCaughtUp(brokers, applicationId, [input], 240_000);
    } finally {
      await app.stop();
    }
    const outputs = new Map<number, Array<{ value: Buffer | null }>>();
    for (const r of await readTopic(brokers, output, { toEnd: true })) {
      const list = outputs.get(r.partition) ?? [];
      list.push(r);
      outputs.set(r.partition, list);
    }
    let inversions = 0;
    let total = 0;
    const seen = new Set<string>();
    for (const records of outputs.values()) {
      const last = new Map<number, number>();
      for (const record of records) {
        const item = JSON.parse(record.value!.toString('utf8')) as Item;
        total += 1;
        seen.add(`${item.p}/${item.seq}`);
        if (item.seq <= (last.get(item.p) ?? -1)) inversions += 1;
        last.set(item.p, item.seq);
      }
    }
    expect({ inversions, missing: RECORDS_PER_PARTITION * PARTITIONS - seen.size }).toEqual({
      inversions: 0,
      missing: 0,
    });
    expect(total).toBeGreaterThanOrEqual(RECORDS_PER_PARTITION * PARTITIONS);
  }, 300_000);
});

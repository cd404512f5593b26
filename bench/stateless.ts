/**
 * The stateless bench: how close the topology runtime comes to the client it
 * runs on. (a) a hand-written kafkajs consume→transform→produce loop, the
 * ceiling for this client; (b) the same map/filter as a topology on the kafka
 * transport, at-least-once. Same broker, same input, same run.
 */
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createTopic, ensureKafka, uniqueName } from '../deploy/kafka/local-broker.js';
import { type ProcessingGuarantee, Serdes, StreamsApplication, TopologyBuilder } from '../topology/index.js';
import { KafkaTransport } from '../topology/transports/kafka/index.js';
import { benchName } from './bench-topics.js';
import { RssSampler } from './rss-sampler.js';

export interface BenchEvent {
  eventId: string;
  tenantId: string;
  userId: string;
  eventType: string;
  timestamp: number;
  payload: { method: string; path: string; statusCode: number; latencyMs: number };
  enriched?: boolean;
}

export const keep = (e: BenchEvent): boolean => e.payload.statusCode < 500;
const enrich = (e: BenchEvent): BenchEvent => ({
  ...e,
  enriched: true,
  payload: { ...e.payload, latencyMs: Math.round(e.payload.latencyMs) },
});

export function event(i: number): BenchEvent {
  return {
    eventId: `evt-${i.toString(16).padStart(12, '0')}-${(i * 2654435761) % 1e9}`,
    tenantId: `tenant-${i % 17}`,
    userId: `user-${(i * 7919) % 100_000}`,
    eventType: i % 3 === 0 ? 'pageview' : 'api_call',
    timestamp: 1_700_000_000_000 + i,
    payload: {
      method: i % 4 === 0 ? 'POST' : 'GET',
      path: `/api/v1/items/${i % 1000}`,
      statusCode: i % 10 === 0 ? 503 : 200,
      latencyMs: (i % 250) + 0.37,
    },
  };
}

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export async function benchStateless(options: { records: number; partitions: number; rounds: number }) {
  const brokers = await ensureKafka();
  const kafka = new Kafka({
    clientId: 'veroai-bench',
    brokers,
    logLevel: logLevel.NOTHING,
  });
  const input = benchName('bench-in');
  await createTopic(brokers, input, options.partitions);
  const expected = Array.from({ length: options.records }, (_, i) => i).filter((i) => keep(event(i))).length;

  log(`filling ${input} with ${options.records} records`);
  const bytes = await fill(kafka, input, options.records);
  const recordBytes = Math.round(bytes / options.records);

  // alternate the two so that broker warm-up and page cache favour neither; report the best of each
  const rawSeconds: number[] = [];
  const topologySeconds: number[] = [];
  let rssMb = 0;
  for (let round = 0; round < options.rounds; round++) {
    const rawOut = benchName('bench-raw-out');
    await createTopic(brokers, rawOut, options.partitions);
    log(`round ${round + 1}: raw kafkajs loop`);
    rawSeconds.push(await runRaw(kafka, input, rawOut, expected));
    const topoOut = benchName('bench-topology-out');
    await createTopic(brokers, topoOut, options.partitions);
    log(`round ${round + 1}: topology`);
    const rss = new RssSampler();
    topologySeconds.push(await runTopology(brokers, input, topoOut, expected));
    // peak RSS of the process while the topology ran (it shares the process with the raw loop's leftovers)
    rssMb = Math.max(rssMb, rss.stop());
  }
  const rps = (seconds: number) => Math.round(options.records / seconds);
  const raw = Math.min(...rawSeconds);
  const topology = Math.min(...topologySeconds);

  return {
    bench: 'stateless',
    records: options.records,
    record_bytes: recordBytes,
    partitions: options.partitions,
    output_records: expected,
    raw_rps: rps(raw),
    topology_rps: rps(topology),
    ratio: Number((raw / topology).toFixed(3)),
    rss_mb: rssMb,
    rounds: { raw_rps: rawSeconds.map(rps), topology_rps: topologySeconds.map(rps) },
  };
}

/** Writes `records` bench events to `topic`, keyed `<tenantId>/<userId>` unless `key` says otherwise; returns the value bytes written. */
export async function fill(
  kafka: Kafka,
  topic: string,
  records: number,
  key: (e: BenchEvent) => string = (e) => `${e.tenantId}/${e.userId}`,
): Promise<number> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let bytes = 0;
  const chunk = 10_000;
  const inFlight: Promise<unknown>[] = [];
  for (let start = 0; start < records; start += chunk) {
    const messages = [];
    for (let i = start; i < Math.min(records, start + chunk); i++) {
      const e = event(i);
      const value = JSON.stringify(e);
      bytes += value.length;
      messages.push({ key: key(e), value });
    }
    inFlight.push(producer.send({ topic, acks: 1, messages }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  return bytes;
}

/** Seconds from the first fetched batch to the last acknowledged output. */
async function runRaw(kafka: Kafka, input: string, output: string, expected: number): Promise<number> {
  const consumer = kafka.consumer({
    groupId: uniqueName('bench-raw'),
    maxBytesPerPartition: 2 * 1024 * 1024,
    maxBytes: 16 * 1024 * 1024,
    maxWaitTimeInMs: 100,
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1 });
  await Promise.all([consumer.connect(), producer.connect()]);
  let started = 0;
  let produced = 0;
  let finished: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 1000,
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      if (started === 0) started = performance.now();
      const messages = [];
      for (const m of batch.messages) {
        const e = JSON.parse(m.value!.toString('utf8')) as BenchEvent;
        if (!keep(e)) continue;
        messages.push({
          key: m.key,
          value: JSON.stringify(enrich(e)),
          partition: batch.partition,
          timestamp: m.timestamp,
        });
      }
      // one request per ~768 KiB: a partition's records in one request form one batch, capped by the broker at 1 MiB
      const requests: Array<typeof messages> = [];
      let bytes = Number.POSITIVE_INFINITY;
      for (const m of messages) {
        const size = 70 + (m.key?.length ?? 0) + m.value.length;
        if (bytes + size > 768 * 1024) {
          requests.push([]);
          bytes = 0;
        }
        requests[requests.length - 1]!.push(m);
        bytes += size;
      }
      await Promise.all(requests.map((chunk) => producer.send({ topic: output, acks: -1, messages: chunk })));
      produced += messages.length;
      if (produced >= expected) finished();
    },
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  await producer.disconnect();
  return seconds;
}

/** Seconds from the first consumed batch to the last acknowledged output of the map/filter topology. */
export async function runTopology(
  brokers: string[],
  input: string,
  output: string,
  expected: number,
  guarantee: ProcessingGuarantee = 'at_least_once',
): Promise<number> {
  const events = Serdes.json<BenchEvent>();
  const builder = new TopologyBuilder();
  builder
    .stream(input, { key: Serdes.string, value: events })
    .filter(keep)
    .mapValues(enrich, { value: events })
    .to(output);
  const registry = new Registry();
  const transport = new KafkaTransport({ brokers, clientId: 'veroai-bench' });
  const app = new StreamsApplication(builder.build(), {
    applicationId: benchName('bench-topology'),
    transport,
    processingGuarantee: guarantee,
    logger: pino({ level: 'warn' }),
    metricsRegistry: registry,
  });
  const count = async (name: string) =>
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((s, v) => s + v.value, 0);
  await app.start();
  let started = 0;
  while (true) {
    if (started === 0 && (await count('veroai_records_consumed_total')) > 0) started = performance.now();
    const produced = ((await registry.getSingleMetric('veroai_records_produced_total')?.get())?.values ?? [])
      .filter((v) => v.labels.topic === output)
      .reduce((s, v) => s + v.value, 0);
    if (produced >= expected) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  await app.stop();
  await transport.close();
  return seconds;
}

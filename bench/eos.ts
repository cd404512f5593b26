/**
 * The price of exactly-once: the stateless map/filter topology under
 * exactly_once (a transaction per batch and task, read_committed) against
 * at_least_once, on the same input in the same run.
 */
import { Kafka, logLevel } from 'kafkajs';
import { createTopic, ensureKafka } from '../deploy/kafka/local-broker.js';
import { benchName } from './bench-topics.js';
import { RssSampler } from './rss-sampler.js';
import { event, fill, keep, log, runTopology } from './stateless.js';

export async function benchEos(options: { records: number; partitions: number }) {
  const brokers = await ensureKafka();
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING });
  const input = benchName('bench-eos-in');
  await createTopic(brokers, input, options.partitions);
  log(`filling ${input} with ${options.records} records`);
  await fill(kafka, input, options.records);
  const expected = Array.from({ length: options.records }, (_, i) => i).filter((i) => keep(event(i))).length;
  const run = async (guarantee: 'at_least_once' | 'exactly_once') => {
    const output = benchName(`bench-${guarantee}`);
    await createTopic(brokers, output, options.partitions);
    log(guarantee);
    return runTopology(brokers, input, output, expected, guarantee);
  };
  const alos = await run('at_least_once');
  const rss = new RssSampler();
  const eos = await run('exactly_once');
  return {
    bench: 'eos',
    records: options.records,
    partitions: options.partitions,
    at_least_once_rps: Math.round(options.records / alos),
    exactly_once_rps: Math.round(options.records / eos),
    ratio: Number((alos / eos).toFixed(3)),
    rss_mb: rss.stop(),
  };
}

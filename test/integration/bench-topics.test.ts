/**
 * A bench deletes what it made (bench/bench-topics.ts): the topics named with
 * `benchName` and those named after them (an application's internal topics),
 * on the real broker, and nothing else: not another run's topics, nor a topic
 * whose name merely starts with the same characters.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { benchName, deleteBenchTopics } from '../../bench/bench-topics.js';
import { createTopic, ensureKafka, uniqueName } from '../../deploy/kafka/local-broker.js';

const kept: string[] = [];
let brokers: string[] = [];

afterAll(async () => {
  if (kept.length === 0) return;
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: kept, timeout: 60_000 }).catch(() => undefined);
  await admin.disconnect();
});

describe('bench topics', () => {
  it("deletes the run's topics and those named after them, and no other", async () => {
    brokers = await ensureKafka();
    const application = benchName('bench-topics-test');
    const input = benchName('bench-topics-test-in');
    const made = [
      input,
      application,
      `${application}-counts-changelog`,
      `${application}-by-user-repartition`,
    ];
    const other = uniqueName('bench-topics-test-other');
    const lookalike = `${application}x`;
    kept.push(other, lookalike);
    for (const topic of [...made, ...kept]) await createTopic(brokers, topic, 1);

    expect(await deleteBenchTopics()).toBe(made.length);

    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const left = new Set(await admin.listTopics());
    await admin.disconnect();
    for (const topic of made) expect(left.has(topic), topic).toBe(false);
    for (const topic of kept) expect(left.has(topic), topic).toBe(true);
    // forgotten once deleted: a second call deletes nothing
    expect(await deleteBenchTopics()).toBe(0);
  });
});

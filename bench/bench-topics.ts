/**
 * What a bench run leaves on the broker. A bench names its topics and
 * applications with `benchName`; when it ends, bench/run.ts deletes every
 * topic so named, or named after one (an application's repartition and
 * changelog topics, `<applicationId>-…`). Before, each run stayed on the
 * broker: after a dozen freshness runs at 10k events/s the local broker held
 * 7.3 GB in ~1,200 partition directories, and each run measured a broker
 * that carried every earlier run's partitions. A topic a bench means to be
 * reused (session-count's generated input, for `--input`) is named with
 * `uniqueName` instead and stays.
 */
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafka, uniqueName } from '../deploy/kafka/local-broker.js';

const named = new Set<string>();

/** A unique topic or application name whose topics are deleted when the bench ends. */
export function benchName(prefix: string): string {
  const name = uniqueName(prefix);
  named.add(name);
  return name;
}

/** Deletes the topics named with `benchName` (and those named after them); returns how many. */
export async function deleteBenchTopics(): Promise<number> {
  if (named.size === 0) return 0;
  const brokers = await ensureKafka();
  const kafka = new Kafka({ clientId: 'veroai-bench-cleanup', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((topic) =>
      [...named].some((name) => topic === name || topic.startsWith(`${name}-`)),
    );
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 60_000 });
    named.clear();
    return mine.length;
  } finally {
    await admin.disconnect();
  }
}

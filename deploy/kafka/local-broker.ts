/**
 * The broker integration tests and benchmarks run against: KAFKA_BROKERS when
 * set, else the project's own single-node Kafka (deploy/kafka/kafka.sh),
 * started on first use. Never skipped: if it cannot start, this throws with
 * the script's output. Under vitest, a broker the run started is stopped when
 * the run ends unless KEEP_KAFKA=1 (test/support/kafka-global-setup.ts).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KafkaTransport } from '../../topology/transports/kafka/index.js';

const script = join(dirname(fileURLToPath(import.meta.url)), 'kafka.sh');
let started: Promise<string[]> | undefined;

export function ensureKafka(): Promise<string[]> {
  const configured = process.env.KAFKA_BROKERS;
  if (configured !== undefined && configured.trim() !== '')
    return Promise.resolve(configured.split(',').map((b) => b.trim()));
  started ??= promisify(execFile)('bash', [script, 'up'], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 })
    .then(() => [`127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`])
    .catch((error: { stdout?: string; stderr?: string; message: string }) => {
      started = undefined;
      throw new Error(
        `could not start the local Kafka broker (deploy/kafka/kafka.sh up): ${error.message}\n${error.stderr ?? ''}${error.stdout ?? ''}`,
      );
    });
  return started;
}

/** A topic or group name no other test run uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Creates a topic and waits for its leaders (as the application's transport does). */
export async function createTopic(
  brokers: readonly string[],
  name: string,
  partitions: number,
): Promise<void> {
  const transport = new KafkaTransport({ brokers: [...brokers], clientId: 'veroai-setup' });
  try {
    await transport.ensureTopics([{ name, partitions }]);
  } finally {
    await transport.close();
  }
}

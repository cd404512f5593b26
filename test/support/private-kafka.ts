/**
 * A Kafka broker of one test alone, for tests that stop and start a broker:
 * the shared one on 127.0.0.1:9092 is used by other tests and must never be
 * stopped. deploy/kafka/kafka.sh runs it from its own run directory
 * (KAFKA_RUN_DIR: pid, log, config, data) on two free ports, so it can be
 * stopped and started again with its topics, offsets and transactions intact.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './free-port.js';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'kafka', 'kafka.sh');

export interface PrivateKafka {
  /** `127.0.0.1:<port>`. */
  readonly brokers: string[];
  /** Its log, for a failure's investigation. */
  readonly logFile: string;
  /** How long the last `start()` took until the broker answered, in ms. */
  readonly lastStartMs: number;
  /** Starts it again (same ports, same data) and waits until it answers. */
  start(): Promise<void>;
  /** Stops it (the data is kept): clients see the broker go away. */
  stop(): Promise<void>;
  /** Stops it and deletes its data and run directory. */
  destroy(): Promise<void>;
}

/** Starts a broker of this test's own and waits until it answers. */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const runDir = mkdtempSync(join(tmpdir(), 'veroai-private-kafka-'));
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  const env = {
    ...process.env,
    KAFKA_RUN_DIR: runDir,
    KAFKA_PORT: String(port),
    CONTROLLER_PORT: String(controllerPort),
    KAFKA_HEAP: process.env.KAFKA_HEAP ?? '384m',
  };
  const kafkaSh = async (...args: string[]): Promise<void> => {
    try {
      await promisify(execFile)('bash', [script, ...args], {
        env,
        timeout: 300_000,
        maxBuffer: 4 * 1024 * 1024,
      });
    } catch (error) {
      const e = error as { message: string; stderr?: string; stdout?: string };
      throw new Error(
        `kafka.sh ${args.join(' ')} (private broker on ${port}): ${e.message}\n${e.stderr ?? ''}`,
      );
    }
  };
  const broker = {
    brokers: [`127.0.0.1:${port}`],
    logFile: join(runDir, 'kafka.log'),
    lastStartMs: 0,
    async start() {
      const began = Date.now();
      await kafkaSh('up');
      broker.lastStartMs = Date.now() - began;
    },
    stop: () => kafkaSh('down'),
    async destroy() {
      await kafkaSh('down', '--purge').catch(() => undefined);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
  try {
    await broker.start();
    await warmUp(broker.brokers);
  } catch (error) {
    await broker.destroy();
    throw error;
  }
  return broker;
}

/**
 * A new broker creates its group and transaction coordinators' topics on
 * their first use, and answers NOT_COORDINATOR meanwhile, for longer than a
 * consumer's retries on a busy machine: they are created before any test
 * relies on them.
 */
async function warmUp(brokers: string[]): Promise<void> {
  const kafka = new Kafka({ clientId: 'veroai-warm-up', brokers, logLevel: logLevel.NOTHING });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const admin = kafka.admin();
    const producer = kafka.producer({
      transactionalId: 'veroai-warm-up',
      idempotent: true,
      maxInFlightRequests: 1,
    });
    try {
      await admin.connect();
      await admin.describeGroups(['veroai-warm-up']);
      await producer.connect();
      await (await producer.transaction()).abort();
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`the private broker's coordinators did not answer in 120 s: ${error}`);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await admin.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
    }
  }
}

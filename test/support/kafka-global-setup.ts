/**
 * vitest globalSetup: a broker the test run started is stopped when the run
 * ends. Integration tests start the project's own Kafka (deploy/kafka/kafka.sh)
 * on first use when KAFKA_BROKERS is not set (deploy/kafka/local-broker.ts);
 * a unit-only run never starts it. This notes before the run whether that
 * broker was already running, and after the run stops it only if it was not
 * (someone else's broker is left alone), unless KEEP_KAFKA=1 asks to keep it
 * for the next run. With KAFKA_BROKERS set the tests use that cluster and
 * this does nothing.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'kafka', 'kafka.sh');

function kafkaSh(command: 'status' | 'down'): { status: number | null; output: string } {
  const result = spawnSync('bash', [script, command], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

export default function setup(): (() => void) | undefined {
  if ((process.env.KAFKA_BROKERS ?? '').trim() !== '') return undefined;
  // `kafka.sh status` exits 0 when the broker runs, 3 when it does not
  const runningBefore = kafkaSh('status').status === 0;
  return () => {
    if (runningBefore || process.env.KEEP_KAFKA === '1') return;
    if (kafkaSh('status').status !== 0) return;
    const down = kafkaSh('down');
    if (down.status !== 0)
      console.warn(`kafka: could not stop the broker this test run started: ${down.output}`);
    else console.info('kafka: stopped the broker this test run started (KEEP_KAFKA=1 keeps it running)');
  };
}

import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { type MainJob, startMainJob } from '../main-job.js';

interface RunOptions {
  sample?: boolean;
  duration?: number;
}

/** `--duration <seconds>`: shared by run and demo. */
export function parseDuration(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error('--duration: expected a positive number of seconds');
  return n;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run the main job (telemetry → sessions → features, Redis, query API, /metrics) from the environment; stops cleanly on SIGINT/SIGTERM',
    )
    .option('--no-sample', 'do not feed built-in sample traffic (default: fed on the memory transport only)')
    .option('--duration <seconds>', 'stop by itself after this many seconds', parseDuration)
    .action(async (options: RunOptions) => {
      const config = loadConfig();
      const logger = createLogger(config.LOG_LEVEL);
      const job = await startMainJob(config, logger, {
        sample: options.sample !== false && config.TRANSPORT === 'memory',
      });
      process.stderr.write(
        `veroai: application '${config.APPLICATION_ID}' running on the ${job.transportKind} transport; API and /metrics on ${job.address}\n`,
      );
      await untilStopped(job, logger, options.duration);
    });
}

/**
 * Waits for SIGINT/SIGTERM, `durationSeconds` or a fatal failure, then stops
 * the job cleanly: the batch in progress finishes, offsets are committed, the
 * consumer leaves its group. A fatal failure exits non-zero without
 * committing what was not written.
 */
export async function untilStopped(
  job: MainJob,
  logger: { info(o: object, m: string): void; error(o: object, m: string): void },
  durationSeconds: number | undefined,
): Promise<void> {
  const reason = await new Promise<{ why: string; error?: unknown }>((resolve) => {
    process.once('SIGINT', () => resolve({ why: 'SIGINT' }));
    process.once('SIGTERM', () => resolve({ why: 'SIGTERM' }));
    if (durationSeconds !== undefined)
      setTimeout(() => resolve({ why: '--duration elapsed' }), durationSeconds * 1000).unref();
    void job.failed.then((error) => resolve({ why: 'fatal error', error }));
  });
  if (reason.error !== undefined) {
    logger.error(
      { err: reason.error },
      'stopping after a fatal error; uncommitted input is reprocessed on restart',
    );
    process.exitCode = 1;
  } else {
    logger.info(
      { reason: reason.why },
      'shutting down: finishing the batch in progress, committing, leaving the group',
    );
  }
  await job.stop();
  logger.info({}, 'stopped');
}

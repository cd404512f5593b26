import { type Command, InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import { loadConfig } from '../config.js';
import {
  cleanStopSignal,
  describeError,
  ExitCode,
  exitCodeOf,
  STOP_TIMEOUT_CODE,
  say,
} from '../lifecycle.js';
import { createLogger } from '../logger.js';
import { type MainJob, startMainJob } from '../main-job.js';

interface RunOptions {
  sample?: boolean;
  duration?: number;
}

/** `--duration <seconds>`: shared by run and demo. */
export function parseDuration(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run the main job (telemetry → sessions → features, the canary KPI gate, Redis, query API, /metrics) from the environment; the first SIGINT/SIGTERM stops it cleanly, a second at once',
    )
    .option('--no-sample', 'do not feed built-in sample traffic (default: fed on the memory transport only)')
    .option('--duration <seconds>', 'stop by itself after this many seconds', parseDuration)
    .action(async (options: RunOptions) => {
      // before anything starts: a signal during start-up is a clean stop too
      const stopRequested = cleanStopSignal();
      const config = loadConfig();
      const logger = createLogger(config.LOG_LEVEL);
      const job = await startMainJob(config, logger, {
        sample: options.sample !== false && config.TRANSPORT === 'memory',
        stopRequested,
      });
      if (job === undefined) {
        logger.info({ reason: String(stopRequested.reason) }, 'stopped during start-up');
        return;
      }
      process.stderr.write(
        `veroai: application '${config.APPLICATION_ID}' running on the ${job.transportKind} transport; API and /metrics on ${job.address}\n`,
      );
      await untilStopped(job, logger, {
        durationSeconds: options.duration,
        stopRequested,
        stopTimeoutMs: config.STOP_TIMEOUT_MS,
      });
    });
}

/** After the stop deadline, how long closing the API, the transport and Redis may take before the process exits anyway. */
const CLOSE_MARGIN_MS = 15_000;

export interface UntilStoppedOptions {
  readonly durationSeconds: number | undefined;
  /** The first SIGINT/SIGTERM (cli/lifecycle.ts). */
  readonly stopRequested: AbortSignal;
  readonly stopTimeoutMs: number;
  /** Called once, when the stop begins (the demo takes its screen down). */
  readonly onStopping?: () => void;
}

/**
 * Waits for a stop request (the first SIGINT/SIGTERM), `durationSeconds` or a
 * fatal failure, then stops the job and sets the process's exit code:
 * - a clean stop: the batch in progress finishes, offsets are committed, the
 *   consumer leaves its group; exit 0;
 * - past STOP_TIMEOUT_MS: what is in flight is abandoned uncommitted, the
 *   group is left; one line says so; exit 3;
 * - a fatal failure: nothing more is committed, the group is left; one line
 *   names the cause and the fix; exit 1.
 * Should closing hang past the deadline and a margin, the process exits anyway.
 */
export async function untilStopped(
  job: MainJob,
  logger: Logger,
  options: UntilStoppedOptions,
): Promise<void> {
  const { stopRequested } = options;
  const reason = await new Promise<{ why: string; error?: unknown }>((resolve) => {
    if (stopRequested.aborted) resolve({ why: String(stopRequested.reason) });
    stopRequested.addEventListener('abort', () => resolve({ why: String(stopRequested.reason) }), {
      once: true,
    });
    if (options.durationSeconds !== undefined)
      setTimeout(() => resolve({ why: '--duration elapsed' }), options.durationSeconds * 1000).unref();
    void job.failed.then((error) => resolve({ why: 'fatal error', error }));
  });
  options.onStopping?.();
  const fatal = 'error' in reason;
  if (fatal) {
    logger.error(
      { err: reason.error },
      'stopping after a fatal error: leaving the group without committing; uncommitted input is reprocessed on restart',
    );
  } else {
    logger.info(
      { reason: reason.why },
      'shutting down: finishing the batch in progress, committing, leaving the group',
    );
  }
  // not unref'd: should the stop hang with nothing else pending, this still ends the process
  const watchdog = setTimeout(() => {
    say(
      fatal
        ? describeError(reason.error)
        : `the stop did not finish within STOP_TIMEOUT_MS (${options.stopTimeoutMs} ms) and ${CLOSE_MARGIN_MS / 1000} s more to close: exiting without a clean stop; uncommitted input is reprocessed on restart`,
    );
    process.exit(fatal ? ExitCode.fatal : ExitCode.stopTimeout);
  }, options.stopTimeoutMs + CLOSE_MARGIN_MS);
  let stopError: unknown;
  try {
    await job.stop();
  } catch (error) {
    stopError = error;
  } finally {
    clearTimeout(watchdog);
  }
  // a fatal error during the stop (e.g. a sink down past its retries meanwhile) is one too
  if (fatal || job.app.state === 'failed') {
    const failure = fatal ? reason.error : await job.failed;
    // the last line: what failed and what to do
    say(describeError(failure));
    process.exitCode = exitCodeOf(failure) === ExitCode.config ? ExitCode.config : ExitCode.fatal;
    return;
  }
  if (stopError !== undefined) {
    const timedOut = (stopError as { code?: unknown }).code === STOP_TIMEOUT_CODE;
    say(
      timedOut
        ? `${(stopError as Error).message}; find what held it up (a sink or Kafka down?), or raise STOP_TIMEOUT_MS`
        : describeError(stopError),
    );
    process.exitCode = timedOut ? ExitCode.stopTimeout : ExitCode.fatal;
    return;
  }
  logger.info({}, 'stopped');
}

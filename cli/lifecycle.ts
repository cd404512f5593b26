/**
 * The process's lifecycle: the one SIGINT/SIGTERM handler of the whole
 * process, the exit codes, and the one line an error prints.
 *
 * - A command that can stop cleanly (`run`, `demo`) asks for `cleanStopSignal()`:
 *   the first SIGINT/SIGTERM aborts that signal and the command stops cleanly.
 * - Any other command, and any moment before a command has asked, exits at
 *   once on the first signal (128 + the signal's number, as a shell reports a
 *   process killed by it).
 * - A second SIGINT/SIGTERM always exits at once.
 *
 * The handler stays installed for the life of the process (never `once`): a
 * library that re-raises a signal when it finds no other listener (log-update
 * does, through signal-exit, to restore the cursor) must always find this one.
 * bin/veroai.js installs it before it loads the rest of the command.
 *
 * Only the error catalogue is imported here, so that installing the handler
 * is quick.
 */
import { VeroaiError } from '../topology/errors.js';

/** How `veroai` exits. README "Operations: stopping, failures and outages" has this table. */
export const ExitCode = {
  /** Stopped cleanly: a signal, --duration, or a command that finished its work. */
  ok: 0,
  /** A fatal error: at start-up (Kafka or Redis unreachable, API port in use) or while running (a sink down past its retries, the consumer crashed). */
  fatal: 1,
  /** The configuration is invalid (an environment variable, STATE_DIR or one another instance holds, a command-line option): fix what the message names. */
  config: 2,
  /** A clean stop did not finish within STOP_TIMEOUT_MS: the batches still in flight were abandoned uncommitted and are reprocessed on restart. */
  stopTimeout: 3,
  /** A second SIGINT (or a SIGINT where no clean stop is possible): exited at once. */
  sigint: 130,
  /** A second SIGTERM (or a SIGTERM where no clean stop is possible): exited at once. */
  sigterm: 143,
} as const;

/** The error code of a stop that passed its deadline (StreamsApplication.stop() rejects with it). */
export const STOP_TIMEOUT_CODE = 'VEROAI_ERR_STOP_TIMEOUT';

type StopSignal = 'SIGINT' | 'SIGTERM';

const EXIT_ON: Record<StopSignal, number> = { SIGINT: ExitCode.sigint, SIGTERM: ExitCode.sigterm };

let installed = false;
let cleanStopPossible = false;
let firstSignal: StopSignal | undefined;
const stopRequest = new AbortController();

/** Installs the process's SIGINT/SIGTERM handler (once; later calls do nothing). */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', () => handleSignal('SIGINT'));
  process.on('SIGTERM', () => handleSignal('SIGTERM'));
}

/**
 * For a command that stops cleanly: from now on the first SIGINT/SIGTERM
 * aborts the returned signal (its reason is the signal's name) instead of
 * exiting. Installs the handler if bin/veroai.js has not.
 */
export function cleanStopSignal(): AbortSignal {
  installSignalHandlers();
  cleanStopPossible = true;
  return stopRequest.signal;
}

/** What a SIGINT/SIGTERM does; bin/veroai.js hands over those that came before this module loaded. */
export function handleSignal(signal: StopSignal): void {
  if (firstSignal === undefined && cleanStopPossible) {
    firstSignal = signal;
    const again = signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM';
    say(
      `${signal}: stopping cleanly (finishing the batch in progress, committing, leaving the group); ${again} again exits at once`,
    );
    stopRequest.abort(signal);
    return;
  }
  if (firstSignal !== undefined)
    say(
      `${signal} again: exiting at once, without a clean stop (uncommitted input is reprocessed on restart)`,
    );
  process.exit(EXIT_ON[signal]);
}

/** Writes `veroai: <text>` as one line on stderr. */
export function say(text: string): void {
  process.stderr.write(`veroai: ${text}\n`);
}

/**
 * What an error says to the operator, on one line: the cause and, when it is
 * known, the fix (a VeroaiError's hint). Unknown errors keep their stack,
 * which is what a bug report needs. A configuration error may list several
 * variables, one per line.
 */
export function describeError(error: unknown): string {
  if (error instanceof VeroaiError)
    return error.hint === undefined ? error.message : `${error.message}; ${error.hint}`;
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** The exit code an error ends the process with. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof VeroaiError) {
    if (error.code === 'VEROAI_ERR_CONFIG' || error.code === 'VEROAI_ERR_STATE_DIR_IN_USE')
      return ExitCode.config;
    if (error.code === STOP_TIMEOUT_CODE) return ExitCode.stopTimeout;
  }
  return ExitCode.fatal;
}

import { type Logger, pino } from 'pino';

/**
 * JSON logs on stderr, so stdout stays for a command's output. Written
 * synchronously: a log line and a line the CLI prints appear in the order
 * they happened, and nothing is lost when the process exits.
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'veroai' } }, pino.destination({ dest: 2, sync: true }));
}

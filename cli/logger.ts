import { type Logger, pino } from 'pino';

/** JSON logs on stderr, so stdout stays for a command's output. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'veroai' } }, pino.destination(2));
}

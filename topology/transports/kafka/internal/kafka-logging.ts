import { logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

/**
 * Routes kafkajs logs into the application's pino logger, so they are JSON like
 * every other line. kafkajs logs connection retries at ERROR while it recovers
 * on its own; they are kept at warn so an operator sees them without alarm.
 */
export function kafkajsLogCreator(logger: Logger | undefined): logCreator {
  return () =>
    ({ level, log }) => {
      if (logger === undefined) return;
      const { message, ...extra } = log;
      const fields = { component: 'kafkajs', ...extra };
      if (level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN) logger.warn(fields, message);
      else if (level === KafkaLogLevel.INFO) logger.debug(fields, message);
      else logger.trace(fields, message);
    };
}

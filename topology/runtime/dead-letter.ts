import { VeroaiError } from '../errors.js';
import type { Headers, OutgoingRecord, SourceRecord } from '../record.js';

/** Header names on dead-letter records. Stable: operators' tools read them. */
export const DLQ_HEADERS = {
  errorClass: 'veroai.error.class',
  errorCode: 'veroai.error.code',
  errorMessage: 'veroai.error.message',
  node: 'veroai.error.node',
  topic: 'veroai.source.topic',
  partition: 'veroai.source.partition',
  offset: 'veroai.source.offset',
  timestamp: 'veroai.source.timestamp',
} as const;

/**
 * The dead-letter record for a source record that failed: its original bytes
 * and headers, plus headers naming the error and where the record came from,
 * so that `veroai dlq` can re-drive it to its source topic.
 */
export function deadLetterRecord(
  dlqTopic: string,
  dlqPartitions: number,
  source: SourceRecord,
  error: unknown,
  node: string,
): OutgoingRecord {
  const err = error instanceof Error ? error : new Error(String(error));
  const headers: Headers = {
    ...source.headers,
    [DLQ_HEADERS.errorClass]: err.name,
    [DLQ_HEADERS.errorCode]: err instanceof VeroaiError ? err.code : 'VEROAI_ERR_UNEXPECTED',
    [DLQ_HEADERS.errorMessage]: err.message.slice(0, 2000),
    [DLQ_HEADERS.node]: node,
    [DLQ_HEADERS.topic]: source.topic,
    [DLQ_HEADERS.partition]: String(source.partition),
    [DLQ_HEADERS.offset]: String(source.offset),
    [DLQ_HEADERS.timestamp]: String(source.timestamp),
  };
  return {
    topic: dlqTopic,
    partition: source.partition % dlqPartitions,
    key: source.key,
    value: source.value,
    timestamp: source.timestamp,
    headers,
  };
}

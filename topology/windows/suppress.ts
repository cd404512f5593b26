import { concatMap, type OperatorFunction } from 'rxjs';
import { type ProcessorContext, RecordFailure } from '../processor.js';
import type { StreamRecord } from '../record.js';
import type { KeyValueStore } from '../state/store.js';
import type { Windowed } from './windows.js';

type Update<K, V> = StreamRecord<Windowed<K>, V | null>;

interface Pending<K> {
  readonly closesAt: number;
  readonly key: Windowed<K>;
  readonly id: string;
}

/**
 * `suppress(untilWindowCloses)`: buffers the latest update of each window and
 * emits it once, when stream time reaches the window's end plus grace. The
 * buffer is a changelogged store, so a restarted task still emits what it had
 * buffered. A window retracted before it closed (a merged-away session) is
 * dropped from the buffer and never emitted. A final result keeps the window
 * end as its timestamp.
 */
export function suppressUntilWindowCloses<K, V>(
  storeName: string,
  graceMs: number,
  keyId: (key: Windowed<K>) => string,
  /** Session and sliding window ends are inclusive: such a window closes only once stream time is strictly past end + grace. */
  inclusiveEnd: boolean,
) {
  const closingTime = (key: Windowed<K>) => key.window.end + graceMs + (inclusiveEnd ? 1 : 0);
  return (context: ProcessorContext): OperatorFunction<Update<K, V>, Update<K, V>> => {
    const buffer = context.getStateStore<KeyValueStore<Windowed<K>, V>>(storeName);
    /** Buffered windows by close time; rebuilt from the store the first time this task sees a record. */
    let pending: Array<Pending<K>> | undefined;
    let observed = -1;

    const index = async (): Promise<Array<Pending<K>>> => {
      if (pending === undefined) {
        pending = [];
        for await (const [key] of buffer.all())
          pending.push({ closesAt: closingTime(key), key, id: keyId(key) });
        pending.sort((a, b) => a.closesAt - b.closesAt);
      }
      return pending;
    };

    return (source) =>
      source.pipe(
        concatMap(async (record) => {
          try {
            const queue = await index();
            observed = Math.max(observed, record.timestamp);
            const id = keyId(record.key);
            const at = queue.findIndex((p) => p.id === id);
            if (record.value === null) {
              if (at >= 0) {
                queue.splice(at, 1);
                buffer.delete(record.key);
              }
            } else {
              buffer.put(record.key, record.value);
              if (at < 0) {
                const entry = { closesAt: closingTime(record.key), key: record.key, id };
                const position = queue.findIndex((p) => p.closesAt > entry.closesAt);
                queue.splice(position < 0 ? queue.length : position, 0, entry);
              }
            }
            const out: Array<Update<K, V>> = [];
            while (queue.length > 0 && queue[0]!.closesAt <= observed) {
              const { key } = queue.shift()!;
              const value = await buffer.get(key);
              buffer.delete(key);
              if (value !== undefined) out.push({ ...record, key, value, timestamp: key.window.end });
            }
            return out;
          } catch (error) {
            throw new RecordFailure(record as StreamRecord<unknown, unknown>, error);
          }
        }),
        concatMap((out) => out),
      );
  };
}

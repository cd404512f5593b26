import type { ProcessorContext, RecordProcessor } from '../processor.js';
import type { StreamRecord } from '../record.js';
import type { KeyValueStore } from '../state/store.js';
import { StoreError } from '../state/store-error.js';
import { MinHeap } from './min-heap.js';
import type { Windowed } from './windows.js';

type Update<K, V> = StreamRecord<Windowed<K>, V | null>;

interface Pending<K> {
  readonly closesAt: number;
  readonly key: Windowed<K>;
}

/**
 * `suppress(untilWindowCloses)`: buffers the latest update of each window and
 * emits it once, when the task's stream time reaches the window's end plus
 * `graceMs` (for a session, the aggregation's gap plus grace: see
 * windowed-kstream). The buffer is a changelogged store, so a restarted task
 * still emits what it had buffered; with stream time restored from the
 * commit, a window closed before a restart stays closed after it. A window
 * retracted before it closed (a merged-away session) is dropped from the
 * buffer and never emitted. A final result keeps the window end as its
 * timestamp.
 *
 * The buffer may be bounded (`maxRecords`): when full, the task fails
 * (Kafka Streams' shutDownWhenFull) rather than emit a window early.
 *
 * Cost per record: O(log open windows). Buffered windows are indexed by id
 * (a map) and by closing time (a heap); a retraction leaves its heap entry
 * behind, skipped when it surfaces.
 */
export function suppressUntilWindowCloses<K, V>(
  storeName: string,
  graceMs: number,
  keyId: (key: Windowed<K>) => string,
  /** Session and sliding window ends are inclusive: such a window closes only once stream time is strictly past end + grace. */
  inclusiveEnd: boolean,
  /** Windows buffered at most; one more fails the task (shut down when full). */
  maxRecords = Number.POSITIVE_INFINITY,
) {
  const closingTime = (key: Windowed<K>) => key.window.end + graceMs + (inclusiveEnd ? 1 : 0);
  return (context: ProcessorContext): RecordProcessor<Windowed<K>, V | null> => {
    const buffer = context.getStateStore<KeyValueStore<Windowed<K>, V>>(storeName);
    /** Buffered windows by id, and their ids by closing time; rebuilt from the store on the first record. */
    let byId: Map<string, Pending<K>> | undefined;
    const byClosingTime = new MinHeap<{ closesAt: number; id: string }>((a, b) => a.closesAt - b.closesAt);

    const index = async (): Promise<Map<string, Pending<K>>> => {
      if (byId === undefined) {
        const rebuilt = new Map<string, Pending<K>>();
        for await (const [key] of buffer.all()) {
          const id = keyId(key);
          rebuilt.set(id, { closesAt: closingTime(key), key });
          byClosingTime.push({ closesAt: closingTime(key), id });
        }
        byId = rebuilt;
      }
      return byId;
    };

    const emitClosed = async (pending: Map<string, Pending<K>>, record: Update<K, V>) => {
      const now = context.streamTime();
      for (
        let top = byClosingTime.peek();
        top !== undefined && top.closesAt <= now;
        top = byClosingTime.peek()
      ) {
        byClosingTime.pop();
        const entry = pending.get(top.id);
        // retracted (or already emitted) since it was indexed
        if (entry === undefined) continue;
        pending.delete(top.id);
        const value = await buffer.get(entry.key);
        buffer.delete(entry.key);
        if (value !== undefined)
          context.forward({ ...record, key: entry.key, value, timestamp: entry.key.window.end });
      }
    };

    return {
      process: async (record) => {
        const pending = await index();
        const id = keyId(record.key);
        if (record.value === null) {
          if (pending.delete(id)) buffer.delete(record.key);
        } else {
          if (!pending.has(id) && pending.size >= maxRecords)
            throw new StoreError(
              storeName,
              'buffering a window',
              new Error(
                `the suppress buffer is full (${maxRecords} windows open): raise maxRecords, shorten the grace, or add instances`,
              ),
            );
          buffer.put(record.key, record.value);
          if (!pending.has(id)) {
            const entry = { closesAt: closingTime(record.key), key: record.key };
            pending.set(id, entry);
            byClosingTime.push({ closesAt: entry.closesAt, id });
          }
        }
        await emitClosed(pending, record as Update<K, V>);
      },
    };
  };
}

import type { ProcessorContext, RecordProcessor } from '../processor.js';
import type { StreamRecord } from '../record.js';
import { StoreError } from '../state/store-error.js';
import type { WindowedKeyValueStore } from '../state/window-retention.js';
import { MinHeap } from './min-heap.js';
import type { Windowed } from './windows.js';

type Update<K, V> = StreamRecord<Windowed<K>, V | null>;

interface Pending<K, V> {
  readonly id: string;
  readonly key: Windowed<K>;
  /** The window's buffered value (undefined: none), kept up to date by its puts. */
  value: V | undefined;
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
 * timestamp. Finals leave in closing order; windows that close together
 * (same end) in the order of their serialised keys, as Kafka Streams' buffer
 * orders them (by time, then key), with either store and across restarts.
 *
 * The buffer may be bounded (`maxRecords`): when full, the task fails
 * (Kafka Streams' shutDownWhenFull) rather than emit a window early.
 *
 * The buffer is a store of windowed keys with its index by window end (see
 * window-end-layout.ts), which is closing-time order, so that the heap holds
 * no entry per buffered window (1M open sessions would be ~300 B each):
 * only the next windows to close, read ahead from the index up to
 * READ_AHEAD at a time (`upcoming`: a map by id and a heap by end, then
 * id), and the end below which every buffered window is among them
 * (`horizon`). A record that closes nothing costs a look at the heap's
 * top; a read of the store comes once the upcoming windows are all emitted
 * and stream time has passed the horizon, and brings the next ones with
 * their values (one multi-get, kept up to date by later puts: a window
 * closing is emitted without a read of its own, which cost a round trip
 * to RocksDB's thread pool per final result). On
 * RocksDB the windows and their index live on disk. Under `maxRecords` it
 * keeps the count of buffered windows, counted on the first record, and
 * reads a window before writing it (new or not). A restarted task reads the
 * restored store's index as it goes.
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
  /** A window closes once stream time reaches its end plus this. */
  const closesAfter = graceMs + (inclusiveEnd ? 1 : 0);
  const bounded = Number.isFinite(maxRecords);
  return (context: ProcessorContext): RecordProcessor<Windowed<K>, V | null> => {
    const buffer = context.getStateStore<WindowedKeyValueStore<K, V>>(storeName);
    /** The buffered windows ending before `horizon`, all of them: by id, and by end then id (a heap with stale entries). */
    const upcoming = new Map<string, Pending<K, V>>();
    const byEnd = new MinHeap<Pending<K, V>>(
      (a, b) => a.key.window.end - b.key.window.end || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    /** Every buffered window ending before this is in `upcoming`; nothing is known before the first read. */
    let horizon = Number.NEGATIVE_INFINITY;
    /** Windows buffered (kept under `maxRecords` only); undefined until counted. */
    let buffered: number | undefined;

    const count = async (): Promise<number> => {
      if (buffered === undefined) {
        let n = 0;
        for await (const _ of buffer.all()) n += 1;
        buffered = n;
      }
      return buffered;
    };

    const add = (key: Windowed<K>, value: V | undefined, id = keyId(key)) => {
      const known = upcoming.get(id);
      if (known !== undefined) {
        known.value = value;
        return;
      }
      const pending = { id, key, value };
      upcoming.set(id, pending);
      byEnd.push(pending);
    };

    /** The upcoming window that closes first (dropping heap entries retracted since). */
    const first = (): Pending<K, V> | undefined => {
      for (let top = byEnd.peek(); top !== undefined; top = byEnd.peek()) {
        if (upcoming.get(top.id) === top) return top;
        byEnd.pop();
      }
      return undefined;
    };

    /** Reads the next windows to close (up to READ_AHEAD) from the buffer's index, with their values. */
    const readUpcoming = async (cutoff: number): Promise<void> => {
      const { windows, until } = await buffer.windowsFrom(horizon, READ_AHEAD, cutoff);
      // their values in one read, not one read per window as it closes
      const values = await buffer.getMany(windows);
      for (let i = 0; i < windows.length; i++) add(windows[i]!, values[i]);
      // read to the end: later windows are written past the horizon, to the store alone
      horizon =
        until !== Number.POSITIVE_INFINITY
          ? until
          : Math.max(cutoff, windows.length === 0 ? horizon : windows[windows.length - 1]!.window.end + 1);
    };

    /** Emits the windows stream time has closed; synchronous unless the buffer's index must be read. */
    const emitClosed = (record: Update<K, V>): void | Promise<void> => {
      // closed: end + closesAfter <= stream time, i.e. end < stream time - closesAfter + 1
      const cutoff = context.streamTime() - closesAfter + 1;
      for (;;) {
        const next = first();
        if (next === undefined) {
          if (horizon >= cutoff) return;
          return readUpcoming(cutoff).then(() => emitClosed(record));
        }
        if (next.key.window.end >= cutoff) return;
        byEnd.pop();
        upcoming.delete(next.id);
        const { value } = next;
        buffer.delete(next.key);
        if (value === undefined) continue;
        if (buffered !== undefined) buffered -= 1;
        context.forward({ ...record, key: next.key, value, timestamp: next.key.window.end });
      }
    };

    /** Buffers the update (a retraction deletes its window), then emits what stream time closed. */
    const bufferUpdate = (record: Update<K, V>): void | Promise<void> => {
      const ahead = record.key.window.end < horizon;
      if (record.value === null) {
        // a retraction of a window no longer buffered (emitted) costs a tombstone, not a read
        buffer.delete(record.key);
        if (ahead) upcoming.delete(keyId(record.key));
      } else {
        buffer.put(record.key, record.value);
        if (ahead) add(record.key, record.value);
      }
      return emitClosed(record);
    };

    /** Bounded: the window is read first, to keep the count of buffered windows. */
    const bufferCounted = async (record: Update<K, V>): Promise<void> => {
      let open = await count();
      const stored = await buffer.get(record.key);
      if (record.value === null) {
        if (stored !== undefined) open -= 1;
      } else if (stored === undefined) {
        if (open >= maxRecords)
          throw new StoreError(
            storeName,
            'buffering a window',
            new Error(
              `the suppress buffer is full (${maxRecords} windows open): raise maxRecords, shorten the grace, or add instances`,
            ),
          );
        open += 1;
      }
      buffered = open;
      await bufferUpdate(record);
    };

    // unbounded, a record that closes nothing to read for makes no promise
    return { process: bounded ? bufferCounted : bufferUpdate };
  };
}

/** How many windows a read of the buffer's index brings into the heap, at most (unless they close at once). */
const READ_AHEAD = 1_024;

import { TopologyError } from '../errors.js';
import type { Serde } from '../serdes/serde.js';
import type { Windowed } from '../windows/windows.js';
import type { KStream, Named } from './kstream.js';

/** How much suppress may buffer: Kafka Streams' strict buffer config (final results never emit early). */
export interface SuppressBufferConfig {
  /**
   * Windows buffered at most. When a new window would exceed it the task
   * fails (Kafka Streams' `shutDownWhenFull`, the only choice for final
   * results: emitting early would break "one final per window"). Default: unbounded.
   */
  readonly maxRecords?: number;
}

/** Emission strategies for suppress(). */
export const Suppressed = {
  /** One final result per window, when stream time passes the window's end plus grace. */
  untilWindowCloses: (buffer: SuppressBufferConfig = {}) => {
    const { maxRecords } = buffer;
    if (maxRecords !== undefined && (!Number.isInteger(maxRecords) || maxRecords <= 0))
      throw new TopologyError(
        `Suppressed.untilWindowCloses(): maxRecords must be a positive whole number, got ${maxRecords}`,
      );
    return { kind: 'untilWindowCloses' as const, maxRecords };
  },
};

/**
 * A changelog view of a keyed aggregate: the latest value per key, and a stream
 * of its updates. Queryable through its store name.
 */
export interface KTable<K, V> {
  /** The state store holding the table, for joins and interactive queries; undefined for a derived table. */
  readonly storeName: string | undefined;

  /** A table of `fn(value)` per key; tombstones pass through. Not materialised: join against the source table. */
  mapValues<V2>(fn: (value: V, key: K) => V2, options?: Named & { value?: Serde<V2> }): KTable<K, V2>;

  /** Keeps the rows that match; a row that stops matching is retracted with a tombstone. Not materialised. */
  filter(predicate: (value: V, key: K) => boolean, options?: Named): KTable<K, V>;

  /** Every update to the table as a stream of (key, new value); a null value retracts the key. */
  toStream(): KStream<K, V>;

  /**
   * Holds back updates of a windowed table and emits each window's final value
   * once, when the window closes. Stateful: a changelogged buffer store `<name>`.
   * @example counts.suppress(Suppressed.untilWindowCloses(), { name: 'final-counts' }).toStream()
   */
  suppress(strategy: ReturnType<typeof Suppressed.untilWindowCloses>, options?: Named): KTable<K, V>;
}

export type { Windowed };

import type { KStream } from './kstream.js';

/**
 * A changelog view of a keyed aggregate: the latest value per key, and a stream
 * of its updates. Queryable through its store name.
 */
export class KTable<K, V> {
  /** @internal */
  constructor(
    private readonly updates: KStream<K, V>,
    /** The state store holding the table, for interactive queries. */
    readonly storeName: string,
  ) {}

  /** Every update to the table as a stream of (key, new value). */
  toStream(): KStream<K, V> {
    return this.updates;
  }
}

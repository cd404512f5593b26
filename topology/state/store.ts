/** What every state store offers the runtime. */
export interface StateStore {
  readonly name: string;
  /** Number of live entries (for the state-store-entries metric). */
  approximateEntries(): number;
  close(): Promise<void>;
}

/** A key-value store: keys and values are typed, bytes stay inside. */
export interface KeyValueStore<K, V> extends StateStore {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  delete(key: K): void;
  /** All entries, in key order of their serialised form. */
  all(): IterableIterator<[K, V]>;
}

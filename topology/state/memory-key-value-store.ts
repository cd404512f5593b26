import type { KeyValueStore } from './store.js';

/**
 * An in-memory key-value store. Entries are keyed by the serialised key
 * (latin1 of the bytes), so two keys equal as bytes are the same entry, as in
 * Kafka Streams, whatever their JavaScript identity.
 */
export class MemoryKeyValueStore<K, V> implements KeyValueStore<K, V> {
  private readonly entries = new Map<string, [K, V]>();

  constructor(
    readonly name: string,
    private readonly keyBytes: (key: K) => Buffer,
  ) {}

  async get(key: K): Promise<V | undefined> {
    return this.entries.get(this.keyBytes(key).toString('latin1'))?.[1];
  }

  put(key: K, value: V): void {
    this.entries.set(this.keyBytes(key).toString('latin1'), [key, value]);
  }

  delete(key: K): void {
    this.entries.delete(this.keyBytes(key).toString('latin1'));
  }

  async *range(from: K, to: K): AsyncIterable<[K, V]> {
    const low = this.keyBytes(from).toString('latin1');
    const high = this.keyBytes(to).toString('latin1');
    for (const k of [...this.entries.keys()].filter((k) => k >= low && k <= high).sort()) {
      const entry = this.entries.get(k);
      if (entry !== undefined) yield entry;
    }
  }

  async *all(): AsyncIterable<[K, V]> {
    for (const k of [...this.entries.keys()].sort()) {
      const entry = this.entries.get(k);
      if (entry !== undefined) yield entry;
    }
  }

  approximateEntries(): number {
    return this.entries.size;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
  }
}

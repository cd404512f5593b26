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

  get(key: K): V | undefined {
    return this.entries.get(this.keyBytes(key).toString('latin1'))?.[1];
  }

  put(key: K, value: V): void {
    this.entries.set(this.keyBytes(key).toString('latin1'), [key, value]);
  }

  delete(key: K): void {
    this.entries.delete(this.keyBytes(key).toString('latin1'));
  }

  *all(): IterableIterator<[K, V]> {
    const keys = [...this.entries.keys()].sort();
    for (const k of keys) yield this.entries.get(k)!;
  }

  approximateEntries(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

import type { OutgoingRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import type { KeyValueStore } from './store.js';

/**
 * Wraps a key-value store so that every write is also a record of its
 * compacted changelog topic (a delete is a tombstone). The changelog records
 * leave with the batch's output and are acknowledged before its offsets are
 * committed, so the store can always be rebuilt from the log.
 */
export class ChangeLoggingKeyValueStore<K, V> implements KeyValueStore<K, V> {
  constructor(
    readonly inner: KeyValueStore<K, V>,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly topic: string,
    private readonly partition: number,
    private readonly emit: (record: OutgoingRecord) => void,
    private readonly now: () => number,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get(key: K): Promise<V | undefined> {
    return this.inner.get(key);
  }

  put(key: K, value: V): void {
    this.inner.put(key, value);
    this.log(key, this.valueSerde.serialize(value, this.topic));
  }

  delete(key: K): void {
    this.inner.delete(key);
    this.log(key, null);
  }

  range(from: K, to: K): AsyncIterable<[K, V]> {
    return this.inner.range(from, to);
  }

  all(): AsyncIterable<[K, V]> {
    return this.inner.all();
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  approximateEntries(): number {
    return this.inner.approximateEntries();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private log(key: K, value: Buffer | null): void {
    this.emit({
      topic: this.topic,
      partition: this.partition,
      key: this.keySerde.serialize(key, this.topic),
      value,
      timestamp: this.now(),
    });
  }
}

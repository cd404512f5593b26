import type { OutgoingRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import { ChangelogBuffer } from './changelog-buffer.js';
import type { KeyValueStore } from './store.js';
import { notWindowed } from './window-retention.js';

/**
 * Wraps a key-value store so that its writes are also records of its
 * compacted changelog topic (a delete is a tombstone), one per key and batch
 * (see ChangelogBuffer). The changelog records leave with the batch's output
 * and are acknowledged before its offsets are committed, so the store can
 * always be rebuilt from the log.
 */
export class ChangeLoggingKeyValueStore<K, V> implements KeyValueStore<K, V> {
  private readonly changelog: ChangelogBuffer<V>;

  constructor(
    readonly inner: KeyValueStore<K, V>,
    private readonly keySerde: Serde<K>,
    valueSerde: Serde<V>,
    private readonly topic: string,
    partition: number,
    emit: (record: OutgoingRecord) => void,
    now: () => number,
  ) {
    this.changelog = new ChangelogBuffer(valueSerde, topic, partition, emit, now);
  }

  get name(): string {
    return this.inner.name;
  }

  get(key: K): Promise<V | undefined> {
    return this.inner.get(key);
  }

  put(key: K, value: V): void {
    this.inner.put(key, value);
    this.changelog.write(this.keySerde.serialize(key, this.topic), value);
  }

  delete(key: K): void {
    this.inner.delete(key);
    this.changelog.write(this.keySerde.serialize(key, this.topic), null);
  }

  range(from: K, to: K): AsyncIterable<[K, V]> {
    return this.inner.range(from, to);
  }

  all(): AsyncIterable<[K, V]> {
    return this.inner.all();
  }

  /** The inner store's keys whose window ended before `cutoff` (a store of windowed keys only). */
  windowsEndedBefore(cutoff: number): Promise<K[]> {
    const inner = this.inner as Partial<{ windowsEndedBefore(cutoff: number): Promise<K[]> }>;
    if (inner.windowsEndedBefore === undefined) return Promise.reject(notWindowed(this.name));
    return inner.windowsEndedBefore(cutoff);
  }

  /** Emits the batch's changelog records (one per written key), then flushes the store. */
  flush(): Promise<void> {
    this.changelog.drain();
    return this.inner.flush();
  }

  approximateEntries(): number {
    return this.inner.approximateEntries();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

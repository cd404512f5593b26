import type { OutgoingRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import { ChangelogBuffer } from './changelog-buffer.js';
import { type KeyValueStore, NOT_IN_MEMORY } from './store.js';
import { notWindowed, type WindowsAhead } from './window-retention.js';

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

  readNow(key: K): V | undefined | typeof NOT_IN_MEMORY {
    return this.inner.readNow === undefined ? NOT_IN_MEMORY : this.inner.readNow(key);
  }

  /** Reads ahead through the inner store, when it can (a memory store has nothing to read ahead). */
  prefetch(keys: readonly K[]): Promise<void> {
    return this.inner.prefetch === undefined ? Promise.resolve() : this.inner.prefetch(keys);
  }

  /** The inner store's values of `keys`, in one read when it reads many at once. */
  getMany(keys: readonly K[]): Promise<Array<V | undefined>> {
    return this.inner.getMany(keys);
  }

  put(key: K, value: V): void {
    this.write(key, value);
  }

  delete(key: K): void {
    this.write(key, undefined);
  }

  /** The key serialised once, for the store (whose key bytes are the changelog's) and the changelog. */
  private write(key: K, value: V | undefined): void {
    const keyBytes = this.keySerde.serialize(key, this.topic);
    const inner = this.inner;
    if (inner.writeSerialized !== undefined && keyBytes !== null) inner.writeSerialized(key, keyBytes, value);
    else if (value === undefined) inner.delete(key);
    else inner.put(key, value);
    this.changelog.write(keyBytes, value ?? null);
  }

  range(from: K, to: K): AsyncIterable<[K, V]> {
    return this.inner.range(from, to);
  }

  all(): AsyncIterable<[K, V]> {
    return this.inner.all();
  }

  /** The inner store's keys whose window ended before `cutoff` (a store of windowed keys only). */
  windowsEndedBefore(cutoff: number): Promise<K[]> {
    const inner = this.windowed();
    if (inner === undefined) return Promise.reject(notWindowed(this.name));
    return inner.windowsEndedBefore(cutoff);
  }

  /** The inner store's read ahead in end order (a store of windowed keys only). */
  windowsFrom(from: number, limit: number, needed: number): Promise<WindowsAhead<K>> {
    const inner = this.windowed();
    if (inner === undefined) return Promise.reject(notWindowed(this.name));
    return inner.windowsFrom(from, limit, needed);
  }

  /** Emits the batch's changelog records (one per written key), then flushes the store. */
  flush(): Promise<void> {
    const inner = this.inner;
    // the store below writes the changelog's bytes of its values, not a second serialisation
    this.changelog.drain(inner.valueSerialized?.bind(inner));
    return inner.flush();
  }

  approximateEntries(): number {
    return this.inner.approximateEntries();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The inner store, when it keeps an index by window end. */
  private windowed(): WindowIndexed<K> | undefined {
    const inner = this.inner as Partial<WindowIndexed<K>>;
    return inner.windowsEndedBefore === undefined || inner.windowsFrom === undefined
      ? undefined
      : (inner as WindowIndexed<K>);
  }
}

/** What a store of windowed keys adds (see WindowedKeyValueStore), over keys of any type. */
interface WindowIndexed<K> {
  windowsEndedBefore(cutoff: number): Promise<K[]>;
  windowsFrom(from: number, limit: number, needed: number): Promise<WindowsAhead<K>>;
}

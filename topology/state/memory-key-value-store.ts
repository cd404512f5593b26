import type { KeyValueStore } from './store.js';
import { WindowEndIndex } from './window-end-index.js';
import { notWindowed, type WindowsAhead } from './window-retention.js';

/**
 * An in-memory key-value store. Entries are keyed by the serialised key
 * (latin1 of the bytes), so two keys equal as bytes are the same entry, as in
 * Kafka Streams, whatever their JavaScript identity. Given `windowEnd` (a
 * store of windowed keys), it also indexes its keys by window end, so that a
 * retention sweep (`windowsEndedBefore`) reads only the windows that expire.
 */
export class MemoryKeyValueStore<K, V> implements KeyValueStore<K, V> {
  private readonly entries = new Map<string, [K, V]>();
  private readonly byEnd: WindowEndIndex<string> | undefined;

  constructor(
    readonly name: string,
    private readonly keyBytes: (key: K) => Buffer,
    private readonly windowEnd?: (key: K) => number,
  ) {
    this.byEnd = windowEnd === undefined ? undefined : new WindowEndIndex();
  }

  readNow(key: K): V | undefined {
    return this.entries.get(this.keyBytes(key).toString('latin1'))?.[1];
  }

  async get(key: K): Promise<V | undefined> {
    return this.readNow(key);
  }

  async getMany(keys: readonly K[]): Promise<Array<V | undefined>> {
    return keys.map((key) => this.readNow(key));
  }

  put(key: K, value: V): void {
    this.writeSerialized(key, this.keyBytes(key), value);
  }

  delete(key: K): void {
    this.writeSerialized(key, this.keyBytes(key), undefined);
  }

  writeSerialized(key: K, keyBytes: Buffer, value: V | undefined): void {
    const id = keyBytes.toString('latin1');
    if (value === undefined) {
      if (this.entries.delete(id)) this.byEnd?.remove(this.windowEnd!(key), id);
      return;
    }
    this.entries.set(id, [key, value]);
    this.byEnd?.add(this.windowEnd!(key), id);
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

  /** The keys whose window ended before `cutoff`, by end: only those are read. */
  async windowsEndedBefore(cutoff: number): Promise<K[]> {
    if (this.byEnd === undefined) throw notWindowed(this.name);
    return this.byEnd.endedBefore(cutoff).map((id) => this.entries.get(id)![0]);
  }

  /** The keys ending from `from` on, by end, as WindowsAhead says. */
  async windowsFrom(from: number, limit: number, needed: number): Promise<WindowsAhead<K>> {
    if (this.byEnd === undefined) throw notWindowed(this.name);
    const { windows, until } = this.byEnd.ahead(from, limit, needed);
    return { windows: windows.map((id) => this.entries.get(id)![0]), until };
  }

  /** Windows and ends the retention sweeps have read (for tests of their cost). */
  get sweepVisits(): number {
    return this.byEnd?.visited ?? 0;
  }

  approximateEntries(): number {
    return this.entries.size;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
    this.byEnd?.clear();
  }
}

import type { OutgoingRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import type { Windowed } from '../windows/windows.js';
import type { SessionStore } from './session-store.js';

/**
 * Wraps a session store so every write is also a record of its compacted
 * changelog (key: the windowed key's bytes; a removed session is a tombstone),
 * sent with the batch's output before its offsets are committed.
 */
export class ChangeLoggingSessionStore<K, V> implements SessionStore<K, V> {
  constructor(
    readonly inner: SessionStore<K, V>,
    private readonly keySerde: Serde<Windowed<K>>,
    private readonly valueSerde: Serde<V>,
    private readonly topic: string,
    private readonly partition: number,
    private readonly emit: (record: OutgoingRecord) => void,
    private readonly now: () => number,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  findSessions(key: K, earliestEnd: number, latestStart: number): Promise<Array<[Windowed<K>, V]>> {
    return this.inner.findSessions(key, earliestEnd, latestStart);
  }

  fetch(key: K): Promise<Array<[Windowed<K>, V]>> {
    return this.inner.fetch(key);
  }

  put(session: Windowed<K>, value: V): void {
    this.inner.put(session, value);
    this.log(session, this.valueSerde.serialize(value, this.topic));
  }

  remove(session: Windowed<K>): void {
    this.inner.remove(session);
    this.log(session, null);
  }

  all(): AsyncIterable<[Windowed<K>, V]> {
    return this.inner.all();
  }

  approximateEntries(): number {
    return this.inner.approximateEntries();
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private log(session: Windowed<K>, value: Buffer | null): void {
    this.emit({
      topic: this.topic,
      partition: this.partition,
      key: this.keySerde.serialize(session, this.topic),
      value,
      timestamp: this.now(),
    });
  }
}

import type { OutgoingRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import type { Windowed } from '../windows/windows.js';
import { ChangelogBuffer } from './changelog-buffer.js';
import type { SessionStore } from './session-store.js';
import { NOT_IN_MEMORY } from './store.js';

/**
 * Wraps a session store so its writes are also records of its compacted
 * changelog (key: the windowed key's bytes; a removed session is a
 * tombstone), one per session and batch (see ChangelogBuffer), sent with the
 * batch's output before its offsets are committed. A session created and
 * removed within one batch (a session a later event of the batch extended)
 * leaves no record at all, as Kafka Streams' caching session store writes
 * nothing for a removed session that neither its cache nor the store below
 * held before.
 */
export class ChangeLoggingSessionStore<K, V> implements SessionStore<K, V> {
  private readonly changelog: ChangelogBuffer<V>;

  constructor(
    readonly inner: SessionStore<K, V>,
    private readonly keySerde: Serde<Windowed<K>>,
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

  findSessions(key: K, earliestEnd: number, latestStart: number): Promise<Array<[Windowed<K>, V]>> {
    return this.inner.findSessions(key, earliestEnd, latestStart);
  }

  findSessionsNow(
    key: K,
    earliestEnd: number,
    latestStart: number,
  ): Array<[Windowed<K>, V]> | typeof NOT_IN_MEMORY {
    const inner = this.inner;
    return inner.findSessionsNow === undefined
      ? NOT_IN_MEMORY
      : inner.findSessionsNow(key, earliestEnd, latestStart);
  }

  fetch(key: K): Promise<Array<[Windowed<K>, V]>> {
    return this.inner.fetch(key);
  }

  put(session: Windowed<K>, value: V): boolean {
    const created = this.inner.put(session, value);
    this.changelog.write(this.keySerde.serialize(session, this.topic), value, created);
    return created;
  }

  remove(session: Windowed<K>): void {
    this.inner.remove(session);
    this.changelog.write(this.keySerde.serialize(session, this.topic), null);
  }

  all(): AsyncIterable<[Windowed<K>, V]> {
    return this.inner.all();
  }

  windowsEndedBefore(cutoff: number): Promise<Array<Windowed<K>>> {
    return this.inner.windowsEndedBefore(cutoff);
  }

  approximateEntries(): number {
    return this.inner.approximateEntries();
  }

  /** Emits the batch's changelog records (one per written key), then flushes the store. */
  flush(): Promise<void> {
    this.changelog.drain();
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

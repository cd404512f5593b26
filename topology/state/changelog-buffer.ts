import type { OutgoingRecord } from '../record.js';
import type { Serde } from '../serdes/serde.js';

/**
 * A store's changelog writes of the current batch, at most one per key: a key
 * written many times in a batch (a hot tenant's counter, a session growing
 * event by event) leaves one changelog record with its last value, as Kafka
 * Streams' record cache does for a commit interval. The batch is the unit of
 * output (its records are acknowledged, or its transaction committed, before
 * its offsets are), so a restore sees the same last value. Values are
 * serialised once, when the batch ends (`drain`), not per write.
 */
export class ChangelogBuffer<V> {
  /**
   * By the key's bytes (latin1), in order of each key's first write in the
   * batch: the order between different keys means nothing to a restore (a
   * compacted changelog is a last value per key), so a rewrite updates its
   * entry in place (a delete and re-insert per write cost ~4 % of a session
   * count's main thread).
   */
  private readonly pending = new Map<
    string,
    { key: Buffer | null; value: V | null; timestamp: number; readonly created: boolean }
  >();

  constructor(
    private readonly valueSerde: Serde<V>,
    private readonly topic: string,
    private readonly partition: number,
    private readonly emit: (record: OutgoingRecord) => void,
    private readonly now: () => number,
  ) {}

  /**
   * Records the key's new value; null is a deletion (a tombstone).
   * `created`: the store held no value for the key before this write, so
   * the changelog holds none either; if this batch's last write of the key
   * is a deletion, nothing is logged for it.
   */
  write(key: Buffer | null, value: V | null, created = false): void {
    const id = key === null ? '' : key.toString('latin1');
    const entry = this.pending.get(id);
    if (entry === undefined) this.pending.set(id, { key, value, timestamp: this.now(), created });
    else {
      entry.key = key;
      entry.value = value;
      entry.timestamp = this.now();
    }
  }

  /**
   * Emits one record per key written since the last drain. `serialized` is
   * told each value's bytes (with the key's id, its bytes as latin1): a
   * store below can write them instead of serialising the value again.
   */
  drain(serialized?: (id: string, value: V, bytes: Buffer) => void): void {
    if (this.pending.size === 0) return;
    for (const [id, { key, value, timestamp, created }] of this.pending) {
      if (value === null && created) continue;
      const bytes = value === null ? null : this.valueSerde.serialize(value, this.topic);
      if (bytes !== null && value !== null) serialized?.(id, value, bytes);
      this.emit({ topic: this.topic, partition: this.partition, key, value: bytes, timestamp });
    }
    this.pending.clear();
  }
}

/**
 * The processors behind KTable sources and stream-table joins. A table update
 * with a null value deletes its key (a tombstone) and is forwarded as one.
 */
import { map } from 'rxjs';
import { TopologyError } from '../../errors.js';
import type { ProcessorSupplier } from '../../processor.js';
import { type KeyValueStore, readStored } from '../../state/store.js';

type Supplier = ProcessorSupplier<unknown, unknown, unknown, unknown>;

/** Materialises a topic into a key-value store and forwards every update. */
export const tableSourceSupplier =
  (storeName: string): Supplier =>
  (context) => {
    const store = context.getStateStore<KeyValueStore<unknown, unknown>>(storeName);
    return {
      process: (record) => {
        if (record.key === null || record.key === undefined)
          throw new TopologyError(`table '${storeName}': a record with a null key cannot be a table row`);
        if (record.value === null || record.value === undefined) store.delete(record.key);
        else store.put(record.key, record.value);
        context.forward(record);
      },
    };
  };

/**
 * Looks each stream record's key up in the table's store. Inner: records
 * without a match are dropped; left: they are joined with `null`.
 */
export const streamTableJoinSupplier =
  <K, V, VT, VR>(
    storeName: string,
    joiner: (value: V, tableValue: VT | null, key: K) => VR,
    left: boolean,
  ): Supplier =>
  (context) => {
    const table = context.getStateStore<KeyValueStore<K, VT>>(storeName);
    return {
      // synchronous when the row is in memory (a memory store, or read ahead: the table's store is keyed by input)
      process: (record) => {
        const join = (row: VT | undefined): void => {
          if (row === undefined && !left) return;
          context.forward({ ...record, value: joiner(record.value as V, row ?? null, record.key as K) });
        };
        if (record.key === null || record.key === undefined) return join(undefined);
        return readStored(table, record.key as K, join);
      },
    };
  };

/** mapValues on a table: a tombstone stays a tombstone. */
export const tableMapValuesSupplier =
  <K, V, V2>(fn: (value: V, key: K) => V2): Supplier =>
  () =>
    map((record) => ({
      ...record,
      value:
        record.value === null || record.value === undefined ? null : fn(record.value as V, record.key as K),
    }));

/** filter on a table: a row that stops matching is retracted with a tombstone, as in Kafka Streams. */
export const tableFilterSupplier =
  <K, V>(predicate: (value: V, key: K) => boolean): Supplier =>
  () =>
    map((record) =>
      record.value === null || record.value === undefined || predicate(record.value as V, record.key as K)
        ? record
        : { ...record, value: null },
    );

/**
 * The built-in stateless operations as processor suppliers. Each is a plain
 * RxJS operator; error isolation, metrics and teardown are added once by the
 * runtime's node wrapper, never here.
 */
import { filter, identity, map, mergeMap, tap } from 'rxjs';
import type { ProcessorSupplier } from '../../processor.js';
import type { StreamRecord } from '../../record.js';
import type { KeyValue, ValueCallback } from '../kstream.js';

type Supplier = ProcessorSupplier<unknown, unknown, unknown, unknown>;

export const filterSupplier =
  <K, V>(predicate: ValueCallback<K, V, boolean>): Supplier =>
  () =>
    filter((r) => predicate(r.value as V, r as StreamRecord<K, V>));

export const mapValuesSupplier =
  <K, V, V2>(fn: ValueCallback<K, V, V2>): Supplier =>
  () =>
    map((r) => ({ ...r, value: fn(r.value as V, r as StreamRecord<K, V>) }));

export const selectKeySupplier =
  <K, V, K2>(fn: ValueCallback<K, V, K2>): Supplier =>
  () =>
    map((r) => ({ ...r, key: fn(r.value as V, r as StreamRecord<K, V>) }));

export const mapSupplier =
  <K, V, K2, V2>(fn: ValueCallback<K, V, KeyValue<K2, V2>>): Supplier =>
  () =>
    map((r) => {
      const kv = fn(r.value as V, r as StreamRecord<K, V>);
      return { ...r, key: kv.key, value: kv.value };
    });

export const flatMapSupplier =
  <K, V, K2, V2>(fn: ValueCallback<K, V, Iterable<KeyValue<K2, V2>>>): Supplier =>
  () =>
    mergeMap((r) =>
      Array.from(fn(r.value as V, r as StreamRecord<K, V>), (kv) => ({ ...r, key: kv.key, value: kv.value })),
    );

export const flatMapValuesSupplier =
  <K, V, V2>(fn: ValueCallback<K, V, Iterable<V2>>): Supplier =>
  () =>
    mergeMap((r) => Array.from(fn(r.value as V, r as StreamRecord<K, V>), (value) => ({ ...r, value })));

export const peekSupplier =
  <K, V>(fn: ValueCallback<K, V, void>): Supplier =>
  () =>
    tap((r) => fn(r.value as V, r as StreamRecord<K, V>));

export const passThroughSupplier: Supplier = () => identity;

/** One branch of a split: takes a record only if no earlier branch's predicate took it. */
export const branchSupplier =
  <K, V>(
    earlier: readonly ValueCallback<K, V, boolean>[],
    own: ValueCallback<K, V, boolean> | undefined,
  ): Supplier =>
  () =>
    filter((r) => {
      const rec = r as StreamRecord<K, V>;
      for (const p of earlier) if (p(rec.value, rec)) return false;
      return own === undefined ? true : own(rec.value, rec);
    });

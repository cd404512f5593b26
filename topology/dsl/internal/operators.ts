/**
 * The built-in stateless operations as processor suppliers, on the per-record
 * contract (RecordProcessor): a record goes through a chain of them
 * synchronously, with no RxJS subscription per batch and no promise per
 * record. (As RxJS operators they cost every node a Subject, a subscriber
 * chain and an array of the batch's records; custom stateless composition
 * still takes any RxJS operator.) Error isolation, metrics and teardown are
 * added once by the runtime's node wrapper, never here.
 */
import type { ProcessorContext, ProcessorSupplier, RecordProcessor } from '../../processor.js';
import type { StreamRecord } from '../../record.js';
import type { KeyValue, ValueCallback } from '../kstream.js';

type Supplier = ProcessorSupplier<unknown, unknown, unknown, unknown>;
type AnyRecord = StreamRecord<unknown, unknown>;
type Forward = ProcessorContext['forward'];

/** A stateless step: what it does with one record, given where its output goes. */
const step =
  (process: (record: AnyRecord, forward: Forward) => void): Supplier =>
  (context): RecordProcessor<unknown, unknown> => {
    const forward = context.forward;
    return { process: (record) => process(record, forward) };
  };

export const filterSupplier = <K, V>(predicate: ValueCallback<K, V, boolean>): Supplier =>
  step((r, forward) => {
    if (predicate(r.value as V, r as StreamRecord<K, V>)) forward(r);
  });

export const mapValuesSupplier = <K, V, V2>(fn: ValueCallback<K, V, V2>): Supplier =>
  step((r, forward) => forward({ ...r, value: fn(r.value as V, r as StreamRecord<K, V>) }));

export const selectKeySupplier = <K, V, K2>(fn: ValueCallback<K, V, K2>): Supplier =>
  step((r, forward) => forward({ ...r, key: fn(r.value as V, r as StreamRecord<K, V>) }));

export const mapSupplier = <K, V, K2, V2>(fn: ValueCallback<K, V, KeyValue<K2, V2>>): Supplier =>
  step((r, forward) => {
    const kv = fn(r.value as V, r as StreamRecord<K, V>);
    forward({ ...r, key: kv.key, value: kv.value });
  });

export const flatMapSupplier = <K, V, K2, V2>(
  fn: ValueCallback<K, V, Iterable<KeyValue<K2, V2>>>,
): Supplier =>
  step((r, forward) => {
    // the whole output first: a callback that throws half-way forwards none of it
    const out = Array.from(fn(r.value as V, r as StreamRecord<K, V>));
    for (const kv of out) forward({ ...r, key: kv.key, value: kv.value });
  });

export const flatMapValuesSupplier = <K, V, V2>(fn: ValueCallback<K, V, Iterable<V2>>): Supplier =>
  step((r, forward) => {
    const out = Array.from(fn(r.value as V, r as StreamRecord<K, V>));
    for (const value of out) forward({ ...r, value });
  });

export const peekSupplier = <K, V>(fn: ValueCallback<K, V, void>): Supplier =>
  step((r, forward) => {
    fn(r.value as V, r as StreamRecord<K, V>);
    forward(r);
  });

export const passThroughSupplier: Supplier = step((r, forward) => forward(r));

/** One branch of a split: takes a record only if no earlier branch's predicate took it. */
export const branchSupplier = <K, V>(
  earlier: readonly ValueCallback<K, V, boolean>[],
  own: ValueCallback<K, V, boolean> | undefined,
): Supplier =>
  step((r, forward) => {
    const rec = r as StreamRecord<K, V>;
    for (const p of earlier) if (p(rec.value, rec)) return;
    if (own === undefined || own(rec.value, rec)) forward(r);
  });

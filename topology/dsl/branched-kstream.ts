import type { KStream, ValueCallback } from './kstream.js';

/**
 * The result of `KStream.split()`: add branches in order, then close with
 * `defaultBranch()` or `noDefaultBranch()` to get the streams by name. A record
 * goes to the first branch whose predicate holds, like Kafka Streams' split().
 */
export interface BranchedKStream<K, V> {
  /** Adds branch `name`: the records no earlier branch took and for which `predicate` holds. */
  branch(predicate: ValueCallback<K, V, boolean>, name: string): this;

  /** Takes every record no branch took, under `name`, and returns all branches. */
  defaultBranch(name?: string): Record<string, KStream<K, V>>;

  /** Records no branch took are dropped on purpose; returns all branches. */
  noDefaultBranch(): Record<string, KStream<K, V>>;
}

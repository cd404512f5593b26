import { TopologyError } from '../errors.js';
import type { KStream } from './kstream.js';
import { branchSupplier, type ValueCallback } from './operators.js';

/**
 * The result of `KStream.split()`: add branches in order, then close with
 * `defaultBranch()` or `noDefaultBranch()` to get the streams by name. A record
 * goes to the first branch whose predicate holds, like Kafka Streams' split().
 */
export class BranchedKStream<K, V> {
  private readonly predicates: ValueCallback<K, V, boolean>[] = [];
  private readonly branches: Record<string, KStream<K, V>> = {};

  /** @internal */
  constructor(
    private readonly parent: KStream<K, V>,
    private readonly prefix: string,
  ) {}

  branch(predicate: ValueCallback<K, V, boolean>, name: string): this {
    this.add(name, predicate);
    this.predicates.push(predicate);
    return this;
  }

  /** Takes every record no branch took, under `name`, and returns all branches. */
  defaultBranch(name = 'default'): Record<string, KStream<K, V>> {
    this.add(name, undefined);
    return this.branches;
  }

  /** Records no branch took are dropped on purpose; returns all branches. */
  noDefaultBranch(): Record<string, KStream<K, V>> {
    return this.branches;
  }

  private add(name: string, predicate: ValueCallback<K, V, boolean> | undefined): void {
    if (name in this.branches) {
      throw new TopologyError(`split('${this.prefix}'): branch '${name}' is defined twice`);
    }
    const supplier = branchSupplier<K, V>([...this.predicates], predicate);
    this.branches[name] = this.parent.chain(
      'branch',
      'KSTREAM-BRANCHCHILD',
      supplier,
      { name: `${this.prefix}-${name}` },
      this.parent.position.serdes,
      false,
    );
  }
}

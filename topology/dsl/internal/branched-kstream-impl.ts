import { TopologyError } from '../../errors.js';
import type { BranchedKStream } from '../branched-kstream.js';
import type { KStream, ValueCallback } from '../kstream.js';
import { KStreamImpl } from './kstream-impl.js';
import { branchSupplier } from './operators.js';
import type { StreamNode } from './stream-node.js';

/** Each branch is a filter after the parent that also rejects what earlier branches took. */
export class BranchedKStreamImpl<K, V> implements BranchedKStream<K, V> {
  readonly #parent: StreamNode<K, V>;
  readonly #prefix: string;
  readonly #predicates: ValueCallback<K, V, boolean>[] = [];
  readonly #branches: Record<string, KStream<K, V>> = {};

  constructor(parent: StreamNode<K, V>, prefix: string) {
    this.#parent = parent;
    this.#prefix = prefix;
  }

  branch(predicate: ValueCallback<K, V, boolean>, name: string): this {
    this.#add(name, predicate);
    this.#predicates.push(predicate);
    return this;
  }

  defaultBranch(name = 'default'): Record<string, KStream<K, V>> {
    this.#add(name, undefined);
    return this.#branches;
  }

  noDefaultBranch(): Record<string, KStream<K, V>> {
    return this.#branches;
  }

  #add(name: string, predicate: ValueCallback<K, V, boolean> | undefined): void {
    if (name in this.#branches) {
      throw new TopologyError(`split('${this.#prefix}'): branch '${name}' is defined twice`);
    }
    const supplier = branchSupplier<K, V>([...this.#predicates], predicate);
    this.#branches[name] = new KStreamImpl(
      this.#parent.chain<K, V>(
        'branch',
        'KSTREAM-BRANCHCHILD',
        supplier,
        { name: `${this.#prefix}-${name}` },
        this.#parent.serdes,
        false,
      ),
    );
  }
}

import { MinHeap } from '../windows/min-heap.js';
import type { WindowsAhead } from './window-retention.js';

/** The items of one window end, and where that end sits in the heap. */
interface Bucket<T> {
  readonly end: number;
  readonly items: Set<T>;
  at: number;
}

/**
 * An in-memory store's windows by end time, so that a retention sweep reads
 * only the windows that expire: per distinct end its items, and the ends in a
 * binary min-heap whose entries know their position, so that an end whose
 * last item goes leaves the heap at once (O(log n)). The ends below a cutoff
 * are a subtree at the heap's top: a sweep walks it, reading the k' ends and k
 * items that expired and at most k' + 1 ends beside them, and changes nothing.
 */
export class WindowEndIndex<T> {
  private readonly byEnd = new Map<number, Bucket<T>>();
  private readonly heap: Array<Bucket<T>> = [];
  private visits = 0;

  /** Ends and items the sweeps have read so far (what a sweep costs; for tests). */
  get visited(): number {
    return this.visits;
  }

  add(end: number, item: T): void {
    let bucket = this.byEnd.get(end);
    if (bucket === undefined) {
      bucket = { end, items: new Set(), at: this.heap.length };
      this.byEnd.set(end, bucket);
      this.heap.push(bucket);
      this.up(bucket.at);
    }
    bucket.items.add(item);
  }

  remove(end: number, item: T): void {
    const bucket = this.byEnd.get(end);
    if (bucket === undefined || !bucket.items.delete(item) || bucket.items.size > 0) return;
    this.byEnd.delete(end);
    const last = this.heap.pop()!;
    if (last === bucket) return;
    this.place(last, bucket.at);
    this.up(last.at);
    this.down(last.at);
  }

  /** The items whose end is before `cutoff`, by end; they stay indexed until the store deletes them. */
  endedBefore(cutoff: number): T[] {
    const expired: Array<Bucket<T>> = [];
    const pending = [0];
    while (pending.length > 0) {
      const at = pending.pop()!;
      const bucket = this.heap[at];
      if (bucket === undefined) continue;
      this.visits += 1;
      // a heap's children end no earlier than their parent: below an end not expired, nothing is
      if (bucket.end >= cutoff) continue;
      expired.push(bucket);
      pending.push(2 * at + 1, 2 * at + 2);
    }
    expired.sort((a, b) => a.end - b.end);
    const found: T[] = [];
    for (const { items } of expired) for (const item of items) found.push(item);
    this.visits += found.length;
    return found;
  }

  /**
   * The items ending from `from` on, by end, as `windowsFrom` reads them (see
   * WindowsAhead): the heap is walked from its top in end order, a frontier of
   * ends in a small heap, so that it reads the ends it returns and their
   * children, not the whole index.
   */
  ahead(from: number, limit: number, needed: number): WindowsAhead<T> {
    const frontier = new MinHeap<Bucket<T>>((a, b) => a.end - b.end);
    if (this.heap[0] !== undefined) frontier.push(this.heap[0]);
    const items: T[] = [];
    for (let bucket = frontier.pop(); bucket !== undefined; bucket = frontier.pop()) {
      for (const child of [this.heap[2 * bucket.at + 1], this.heap[2 * bucket.at + 2]])
        if (child !== undefined) frontier.push(child);
      if (bucket.end < from) continue;
      const whole = items.length === 0 && bucket.end < needed;
      if (items.length >= limit || (items.length + bucket.items.size > limit && !whole))
        return { windows: items, until: bucket.end };
      for (const item of bucket.items) items.push(item);
    }
    return { windows: items, until: Number.POSITIVE_INFINITY };
  }

  clear(): void {
    this.byEnd.clear();
    this.heap.length = 0;
  }

  private place(bucket: Bucket<T>, at: number): void {
    this.heap[at] = bucket;
    bucket.at = at;
  }

  private up(at: number): void {
    const bucket = this.heap[at]!;
    while (at > 0) {
      const parent = this.heap[(at - 1) >> 1]!;
      if (parent.end <= bucket.end) break;
      this.place(parent, at);
      at = (at - 1) >> 1;
    }
    this.place(bucket, at);
  }

  private down(at: number): void {
    const bucket = this.heap[at]!;
    const size = this.heap.length;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && this.heap[right]!.end < this.heap[left]!.end ? right : left;
      if (this.heap[child]!.end >= bucket.end) break;
      this.place(this.heap[child]!, at);
      at = child;
    }
    this.place(bucket, at);
  }
}

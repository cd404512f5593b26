import type { OperatorFunction } from 'rxjs';
import { catalogueEntry } from '../../error-catalogue.js';
import { TopologyError, VeroaiError } from '../../errors.js';
import { type SubTopology, topicName } from '../../plan/topology.js';
import type { RecordProcessor } from '../../processor.js';
import type { OutgoingRecord, StreamRecord } from '../../record.js';
import {
  type BatchHooks,
  type Downstream,
  type KeptBytes,
  type NodeCounts,
  NodeTimer,
  ProcessorRunner,
  RecordRunner,
  SinkRunner,
  SourceRunner,
} from '../batch-graph.js';

type AnyRecord = StreamRecord<unknown, unknown>;

/** A processor node's per-task instance: an RxJS operator or a RecordProcessor. */
export type ProcessorInstance = OperatorFunction<AnyRecord, AnyRecord> | RecordProcessor<unknown, unknown>;

/** What the graph's nodes hand back to the task that runs them. */
export interface TaskGraphHooks {
  /** Sends the record's source bytes to the dead-letter topic, naming the node and error. */
  deadLetter(record: AnyRecord | undefined, error: unknown, node: string): void;
  /** Output for a sink topic, ready to send. */
  emit(record: OutgoingRecord): void;
  partitionFor(topic: string, key: Buffer | null): number;
  /** A record a repartition in place keeps in the task, for its source node `source` (see BatchHooks.keepInPlace). */
  keepInPlace(source: string, record: AnyRecord, bytes: KeptBytes): void | Promise<void>;
  /** The batch fails, and with it the task (see BatchHooks.failTask). */
  failTask(error: unknown): void;
}

/** A node of the graph with what a new batch resets in it. */
interface GraphNode {
  readonly runner: Downstream & NodeCounts & { reset(parents: number): void };
  readonly parents: number;
}

/**
 * A task's node graph (sources, processors, sinks), built once when the task
 * is created and run batch after batch: `beginBatch` resets each node (counts,
 * open parents; an RxJS operator is subscribed afresh) and returns the
 * promise that resolves once every terminal node has seen the batch end.
 * Processors keep their instances (and a RecordProcessor its fields) for the
 * task's life.
 */
export class TaskGraph {
  private readonly sources = new Map<string, SourceRunner>();
  private readonly processors = new Map<string, ProcessorRunner | RecordRunner>();
  /** Per source, the RecordProcessors it feeds directly that read ahead, by node name. */
  private readonly readers = new Map<string, Array<[string, RecordProcessor<unknown, unknown>]>>();
  private readonly nodes: GraphNode[] = [];
  private readonly terminals: number;
  private readonly hooks: BatchHooks;
  private inBatch = false;
  private openTerminals = 0;
  private resolveDone: (() => void) | undefined;

  constructor(
    subTopology: SubTopology,
    applicationId: string,
    instances: ReadonlyMap<string, ProcessorInstance>,
    hooks: TaskGraphHooks,
    /** The task's partition: a repartition in place keeps the records the partitioner puts there. */
    partition: number,
  ) {
    const batchHooks: BatchHooks = {
      ...hooks,
      timer: new NodeTimer(false),
      isInfrastructureError: (error) =>
        error instanceof VeroaiError && catalogueEntry(error.code)?.failsTask === true,
    };
    this.hooks = batchHooks;
    const children = new Map<string, string[]>(subTopology.nodes.map((n) => [n.name, []]));
    for (const node of subTopology.nodes)
      if (node.kind !== 'source') for (const parent of node.parents) children.get(parent)?.push(node.name);
    const terminalEnded = () => this.terminalEnded();
    const completion: Downstream = { push: () => undefined, parentEnded: terminalEnded };
    const built = new Map<string, Downstream>();
    let terminals = 0;
    for (let i = subTopology.nodes.length - 1; i >= 0; i--) {
      const node = subTopology.nodes[i]!;
      const next = children.get(node.name)!.map((c) => built.get(c)!);
      if (node.kind === 'sink') {
        terminals += 1;
        const readBack = node.inPlaceSource === undefined ? undefined : built.get(node.inPlaceSource);
        const runner = new SinkRunner(
          node,
          topicName(node.topic, applicationId),
          batchHooks,
          readBack === undefined
            ? terminalEnded
            : () => {
                terminalEnded();
                return readBack.parentEnded();
              },
          readBack === undefined ? undefined : partition,
        );
        this.nodes.push({ runner, parents: node.parents.length });
        built.set(node.name, runner);
      } else if (node.kind === 'processor') {
        if (next.length === 0) terminals += 1;
        const instance = instances.get(node.name)!;
        const downstream = next.length === 0 ? [completion] : next;
        const runner =
          typeof instance === 'function'
            ? new ProcessorRunner(node.name, instance, downstream, batchHooks)
            : new RecordRunner(node.name, instance, downstream, batchHooks);
        this.processors.set(node.name, runner);
        this.nodes.push({ runner, parents: node.parents.length });
        built.set(node.name, runner);
      } else {
        const runner = new SourceRunner(node.name, next);
        this.sources.set(node.name, runner);
        const readers = children.get(node.name)!.flatMap((child) => {
          const instance = instances.get(child);
          return instance !== undefined && typeof instance !== 'function' && instance.readAhead !== undefined
            ? [[child, instance] as [string, RecordProcessor<unknown, unknown>]]
            : [];
        });
        if (readers.length > 0) this.readers.set(node.name, readers);
        const inPlaceSinks = subTopology.sinks.filter((s) => s.inPlaceSource === node.name).length;
        this.nodes.push({ runner, parents: inPlaceSinks });
        built.set(node.name, runner);
      }
    }
    this.terminals = terminals;
  }

  /**
   * Starts a batch: every node reset, a new timer. Resolves once every
   * terminal node (sink, or processor without children) has seen the end of
   * the batch (after `endBatch`).
   */
  beginBatch(): Promise<void> {
    this.hooks.timer = NodeTimer.forBatch();
    this.inBatch = true;
    this.openTerminals = this.terminals;
    const done = new Promise<void>((resolve) => {
      this.resolveDone = resolve;
    });
    for (const { runner, parents } of this.nodes) runner.reset(parents);
    if (this.terminals === 0) this.resolveDone?.();
    return done;
  }

  /** The entry of the source node `name`. */
  source(name: string): Downstream {
    return this.sources.get(name)!;
  }

  /** True when a processor fed by source `name` reads ahead: the batch is then decoded before it runs. */
  readsAhead(name: string): boolean {
    return this.readers.has(name);
  }

  /**
   * Lets the processors fed by source `name` read ahead for `records` (all at
   * once). Resolves with the failures, by node: a read-ahead is a hint.
   */
  async readAhead(name: string, records: readonly AnyRecord[]): Promise<Array<[string, unknown]>> {
    const readers = this.readers.get(name) ?? [];
    const settled = await Promise.allSettled(
      readers.map(async ([, processor]) => processor.readAhead!(records)),
    );
    return settled.flatMap((result, i) =>
      result.status === 'rejected' ? [[readers[i]![0], result.reason] as [string, unknown]] : [],
    );
  }

  /** Tells every source the batch has no more records: nodes flush (onBatchEnd) from the top down. */
  async endBatch(): Promise<void> {
    for (const source of this.sources.values()) await source.parentEnded();
  }

  /** The batch is over (done, or failed): `forward` is refused until the next one. */
  closeBatch(): void {
    this.inBatch = false;
  }

  /** Each node's counts for the batch, to report. */
  counts(): readonly NodeCounts[] {
    return this.nodes.map((n) => n.runner);
  }

  /** Emits a record downstream of processor `node` (`context.forward`), only during a batch. */
  forward(node: string, record: AnyRecord): void {
    const runner = this.processors.get(node);
    if (runner === undefined || !this.inBatch) {
      throw new TopologyError(
        `processor '${node}' called forward() outside of a batch`,
        'forward only while processing or from a punctuator',
      );
    }
    runner.forward(record);
  }

  /** Resolves once what processors forwarded (e.g. from a punctuator) is processed downstream. */
  async settled(): Promise<void> {
    for (const runner of this.processors.values()) await runner.settled();
  }

  private terminalEnded(): void {
    this.openTerminals -= 1;
    if (this.openTerminals === 0) this.resolveDone?.();
  }
}

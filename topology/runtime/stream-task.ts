import { join } from 'node:path';
import type { Logger } from 'pino';
import type { OperatorFunction } from 'rxjs';
import { catalogueEntry } from '../error-catalogue.js';
import { DeserializationError, LateRecordError, TopologyError, VeroaiError } from '../errors.js';
import type { SubTopology } from '../plan/topology.js';
import { changelogTopic, topicName } from '../plan/topology.js';
import type { ProcessorContext, PunctuationType, RecordProcessor } from '../processor.js';
import type { OutgoingRecord, SourceRecord, StreamRecord, TopicPartition } from '../record.js';
import { tpKey } from '../record.js';
import type { Serde } from '../serdes/serde.js';
import { CheckpointFile } from '../state/checkpoint-file.js';
import { RocksDbDatabase } from '../state/rocksdb-database.js';
import type { StateStore, StoreType } from '../state/store.js';
import { createTaskStore, type TaskStore } from '../state/task-stores.js';
import { deleteWindowsEndedBefore } from '../state/window-retention.js';
import type { CommitOffset, ConsumedBatch, Transport } from '../transports/transport.js';
import {
  type BatchHooks,
  type Downstream,
  type NodeCounts,
  NodeTimer,
  ProcessorRunner,
  RecordRunner,
  SinkRunner,
  SourceRunner,
} from './batch-graph.js';
import type { ChangelogRestore } from './changelog-restorer.js';
import { deadLetterRecord } from './dead-letter.js';
import type { RuntimeMetrics } from './metrics.js';
import { decodeStreamTime, encodeStreamTime } from './stream-time.js';

type AnyRecord = StreamRecord<unknown, unknown>;

/** What a task needs from the application that owns it. */
export interface TaskEnvironment {
  readonly applicationId: string;
  readonly transport: Transport;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly deadLetterTopic: string;
  readonly lateTopic: string;
  /** Restore (and read) only committed transactional data: exactly-once. */
  readonly readCommitted: boolean;
  /** Where persistent stores live: `<stateDir>/<applicationId>/<taskId>/<store>`. */
  readonly stateDir: string;
  /** The backend of stores whose spec does not choose one. */
  readonly defaultStoreType: StoreType;
  partitionCount(topic: string): number;
  partitionFor(topic: string, key: Buffer | null): number;
  now(): number;
}

/** A processed batch: its output, and the call to make once the log has acknowledged it. */
export interface ProcessedBatch {
  readonly records: OutgoingRecord[];
  /** The input position after this batch: what exactly-once commits in the batch's transaction. */
  readonly offsets: CommitOffset[];
  readonly acknowledge: () => void;
}

/** A batch whose output is on its way: its offsets (with the stream time after it) become committable once acknowledged. */
interface InFlight {
  readonly offsets: Map<string, CommitOffset>;
  acked: boolean;
}

interface Punctuation {
  readonly node: string;
  readonly intervalMs: number;
  readonly type: PunctuationType;
  readonly callback: (timestamp: number) => void | Promise<void>;
  cancelled: boolean;
  next: number;
  /** Calls that threw since the last one that did not. */
  failuresInARow: number;
}

/** A punctuator that fails this many times in a row fails its task (an expiry that never runs lets state grow without bound). */
export const MAX_PUNCTUATOR_FAILURES_IN_A_ROW = 3;

/** Stream time between two expiry sweeps of a windowed store, at least. */
const MIN_EXPIRY_INTERVAL_MS = 60_000;

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as Promise<T>)?.then === 'function';

/**
 * One task: a sub-topology bound to one partition. It processes the batches
 * of its input partitions in order, owns its state stores, keeps stream time,
 * and knows which offsets are safe to commit: only those whose batch output
 * (results, changelog writes, dead letters) has been acknowledged.
 */
export class StreamTask {
  readonly id: string;
  /** Each processor node's per-task instance: an RxJS operator or a RecordProcessor. */
  private readonly operators = new Map<
    string,
    OperatorFunction<AnyRecord, AnyRecord> | RecordProcessor<unknown, unknown>
  >();
  private readonly stores = new Map<string, TaskStore>();
  private readonly runners = new Map<string, ProcessorRunner | RecordRunner>();
  /** An infrastructure error (a store failed) raised while processing the batch: the batch fails. */
  private taskFailure: unknown;
  /** The earliest stream time at which a stream-time punctuation is due (checked after each record). */
  private streamTimeDue = Number.POSITIVE_INFINITY;
  /** Wakes a batch waiting for its graph to finish when the task fails instead. */
  private onTaskFailure: (() => void) | undefined;
  private readonly topicToSource = new Map<
    string,
    {
      name: string;
      key: Serde<unknown>;
      value: Serde<unknown>;
      extract: ((r: AnyRecord) => number) | undefined;
    }
  >();
  private outputs: OutgoingRecord[] = [];
  private readonly inFlight: InFlight[] = [];
  private readonly committable = new Map<string, CommitOffset>();
  private drainWaiters: Array<() => void> = [];
  private streamTimeMs = -1;
  private currentSource: SourceRecord | undefined;
  private readonly children = new Map<string, string[]>();
  private lock: Promise<void> = Promise.resolve();
  private readonly punctuations: Punctuation[] = [];
  /** Per input partition, the first offset this task has not yet reflected (see startAt). */
  private readonly startOffsets = new Map<string, number>();
  /** Where this task's persistent stores and their checkpoint live. */
  private readonly directory: string;
  private readonly checkpointFile: CheckpointFile;
  /** Changelog records written since the last checkpoint. */
  private changelogWrites = 0;
  /** Per windowed store, the stream time of its last expiry sweep. */
  private readonly lastExpiry = new Map<string, number>();

  constructor(
    readonly subTopology: SubTopology,
    readonly partition: number,
    private readonly env: TaskEnvironment,
  ) {
    this.id = `${subTopology.id}_${partition}`;
    this.directory = join(env.stateDir, env.applicationId, this.id);
    this.checkpointFile = new CheckpointFile(this.directory);
    for (const source of subTopology.sources) {
      for (const ref of source.topics) {
        this.topicToSource.set(topicName(ref, env.applicationId), {
          name: source.name,
          key: source.keySerde,
          value: source.valueSerde,
          extract: source.timestampExtractor,
        });
      }
    }
    for (const spec of subTopology.stores) {
      const taskStore = createTaskStore(spec, {
        changelogTopic: changelogTopic(env.applicationId, spec.name),
        partition,
        emit: (r) => {
          this.outputs.push(r);
          this.changelogWrites += 1;
        },
        now: env.now,
        taskDirectory: this.directory,
        defaultStoreType: env.defaultStoreType,
      });
      this.stores.set(spec.name, taskStore);
    }
    for (const node of subTopology.nodes) {
      this.children.set(node.name, []);
      if (node.kind !== 'source')
        for (const parent of node.parents) this.children.get(parent)?.push(node.name);
    }
    for (const node of subTopology.nodes) {
      if (node.kind === 'processor')
        this.operators.set(
          node.name,
          node.supplier(this.contextFor(node.name, node.stores)) as
            | OperatorFunction<AnyRecord, AnyRecord>
            | RecordProcessor<unknown, unknown>,
        );
    }
  }

  /** The source topic-partitions this task reads. */
  inputPartitions(): TopicPartition[] {
    return [...this.topicToSource.keys()]
      .filter((topic) => this.partition < this.env.partitionCount(topic))
      .map((topic) => ({ topic, partition: this.partition }));
  }

  streamTime(): number {
    return this.streamTimeMs;
  }

  /**
   * Resumes stream time from the metadata committed with an input
   * partition's offset (on assignment): stream time never goes back across
   * restarts and rebalances, so a record late before is late after.
   */
  restoreStreamTime(metadata: string | undefined): void {
    const time = decodeStreamTime(metadata);
    if (time !== undefined && time > this.streamTimeMs) this.streamTimeMs = time;
  }

  store(name: string): StateStore | undefined {
    return this.stores.get(name)?.store;
  }

  /**
   * Opens the task's stores and tells what each changelogged one must replay
   * from its topic before the first batch (see restoreChangelogs). A
   * persistent store with a checkpoint replays only the changelog after the
   * checkpointed offset; without one its files are wiped and it replays from
   * offset 0, as an in-memory store always does. Under exactly_once the
   * checkpoint is deleted once read: until the next clean close the files may
   * hold writes of aborted transactions, so a crash must lead to a full restore.
   */
  async openStores(): Promise<ChangelogRestore[]> {
    const persistent = [...this.stores.values()].some((s) => s.persistent !== undefined);
    const checkpoint = persistent ? await this.checkpointFile.read() : new Map<string, number>();
    if (persistent && this.env.readCommitted) await this.checkpointFile.delete();
    const restores: ChangelogRestore[] = [];
    for (const spec of this.subTopology.stores) {
      const target = this.stores.get(spec.name)!;
      const topic = changelogTopic(this.env.applicationId, spec.name);
      if (!spec.changelog) {
        await target.persistent?.open();
        continue;
      }
      const end = (await this.env.transport.endOffsets(topic))[this.partition] ?? 0;
      let from = 0;
      if (target.persistent !== undefined) {
        const checkpointed = checkpoint.get(tpKey(topic, this.partition));
        // a checkpoint beyond the log's end belongs to a changelog that was deleted and recreated
        if (checkpointed !== undefined && checkpointed <= end) from = checkpointed;
        else await RocksDbDatabase.wipe(target.persistent.directory);
        await target.persistent.open();
      }
      restores.push({ task: this.id, store: spec.name, topic, partition: this.partition, from, end, target });
    }
    return restores;
  }

  /**
   * at_least_once: writes the checkpoint of the task's persistent stores when
   * at least `minWrites` changelog records were written since the last one and
   * everything the task processed is acknowledged and committed. Then the
   * changelog's end offset is exactly what the stores hold (the task is the
   * only writer of its changelog partition). Runs between batches.
   */
  checkpointIfDue(minWrites: number): Promise<void> {
    const run = this.lock.then(async () => {
      if (this.changelogWrites < minWrites) return;
      if (this.inFlight.length > 0 || this.committable.size > 0) return;
      await this.writeCheckpoint();
    });
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Flushes the persistent stores and records the changelog end offset each of them holds. */
  private async writeCheckpoint(): Promise<void> {
    const entries: Array<{ topic: string; partition: number; offset: number }> = [];
    for (const spec of this.subTopology.stores) {
      const target = this.stores.get(spec.name)!;
      if (target.persistent === undefined || !spec.changelog) continue;
      await target.store.flush();
      const topic = changelogTopic(this.env.applicationId, spec.name);
      const offset = (await this.env.transport.endOffsets(topic))[this.partition] ?? 0;
      entries.push({ topic, partition: this.partition, offset });
    }
    if (entries.length === 0) return;
    this.changelogWrites = 0;
    await this.checkpointFile.write(entries);
  }

  /**
   * Runs one batch through the sub-topology and returns its output (results,
   * changelog writes, dead letters), to be sent by the caller.
   */
  process(batch: ConsumedBatch): Promise<ProcessedBatch> {
    // batches of a task's input partitions may arrive concurrently; a task runs one at a time
    const run = this.lock.then(() => this.processNow(batch));
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Records of `topic:partition` before `offset` are already reflected in the
   * restored state and the committed output: batches fetched from an older
   * position (the consumer read its offsets before a fenced transaction
   * completed) skip them.
   */
  startAt(topic: string, partition: number, offset: number): void {
    this.startOffsets.set(tpKey(topic, partition), offset);
  }

  private async processNow(fetched: ConsumedBatch): Promise<ProcessedBatch> {
    const start = this.startOffsets.get(tpKey(fetched.topic, fetched.partition));
    const batch =
      start === undefined || (fetched.records[0]?.offset ?? start) >= start
        ? fetched
        : { ...fetched, records: fetched.records.filter((r) => r.offset >= start) };
    const source = this.topicToSource.get(batch.topic);
    if (source === undefined)
      throw new TopologyError(`task ${this.id} got a batch of '${batch.topic}', which it does not read`);
    this.outputs = [];
    this.taskFailure = undefined;
    const { sources, counts, done } = this.buildBatchGraph();
    const entry = sources.get(source.name)!;
    await this.readAhead(batch.records);
    await this.punctuate();
    await this.settleRunners();
    // one record at a time through the whole graph, as Kafka Streams does: a processor sees the
    // stream time (and the state) of the record it processes, never of records behind it
    for (const raw of batch.records) {
      if (this.taskFailure !== undefined) break;
      this.currentSource = raw;
      let record: AnyRecord;
      try {
        const decoded = this.decode(raw, source);
        record = isPromise(decoded) ? await decoded : decoded;
      } catch (error) {
        this.deadLetterRaw(raw, error, source.name);
        continue;
      }
      // advanced when the record is processed (not when decoded): a record that cannot be decoded has no time
      if (record.timestamp > this.streamTimeMs) this.streamTimeMs = record.timestamp;
      const pending = entry.push(record);
      if (pending !== undefined) await pending;
      if (this.streamTimeMs >= this.streamTimeDue) {
        await this.punctuate('stream-time');
        await this.settleRunners();
      }
    }
    this.currentSource = undefined;
    if (this.taskFailure === undefined) for (const s of sources.values()) await s.parentEnded();
    if (this.taskFailure === undefined) {
      // a graph whose step failed (naming no record) never finishes: stop waiting when the task fails
      await Promise.race([
        done,
        new Promise<void>((resolve) => {
          this.onTaskFailure = resolve;
        }),
      ]);
      this.onTaskFailure = undefined;
    }
    this.runners.clear();
    if (this.taskFailure !== undefined) throw this.taskFailure;
    for (const c of counts) this.env.metrics.processed(c.node, c.recordsIn, c.recordsOut, c.busySeconds());
    await this.expireWindows();
    for (const { store } of this.stores.values()) await store.flush();
    this.env.metrics.consumed(batch.topic, batch.records.length);
    const last = batch.records[batch.records.length - 1];
    const offsets: CommitOffset[] =
      last === undefined
        ? []
        : [
            {
              topic: batch.topic,
              partition: batch.partition,
              offset: last.offset + 1,
              ...(this.streamTimeMs >= 0 ? { metadata: encodeStreamTime(this.streamTimeMs) } : {}),
            },
          ];
    const flight: InFlight = {
      offsets: new Map(offsets.map((o) => [tpKey(o.topic, o.partition), o])),
      acked: false,
    };
    this.inFlight.push(flight);
    const records = this.outputs;
    this.outputs = [];
    return { records, offsets, acknowledge: () => this.acknowledge(flight) };
  }

  /**
   * Retention: deletes the windows of windowed stores whose end plus the
   * store's retention is behind stream time (tombstones go to the changelog
   * with the batch), so state stays bounded. A sweep reads the whole store, so
   * it runs only once stream time has moved on by the retention, and at least
   * a minute, since the last one (Kafka Streams' segment interval).
   */
  private async expireWindows(): Promise<void> {
    for (const spec of this.subTopology.stores) {
      const retention = spec.windowRetentionMs;
      if (retention === undefined || this.streamTimeMs < 0) continue;
      const last = this.lastExpiry.get(spec.name);
      if (last !== undefined && this.streamTimeMs - last < Math.max(retention, MIN_EXPIRY_INTERVAL_MS))
        continue;
      this.lastExpiry.set(spec.name, this.streamTimeMs);
      if (last === undefined) continue;
      const store = this.stores.get(spec.name)!.store;
      const deleted = await deleteWindowsEndedBefore(store, spec.type, this.streamTimeMs - retention);
      if (deleted > 0)
        this.env.logger.debug({ task: this.id, store: spec.name, deleted }, 'expired windows deleted');
    }
  }

  /** Lets the persistent stores that can read ahead load the batch's keys, all of them at once. */
  private async readAhead(records: readonly SourceRecord[]): Promise<void> {
    const readers = [...this.stores.values()].filter((s) => s.prefetch !== undefined);
    if (readers.length === 0 || records.length === 0) return;
    const keys = records.flatMap((r) => (r.key === null ? [] : [r.key]));
    await Promise.all(readers.map((s) => s.prefetch!(keys)));
  }

  /** The batch's output is safely in the log: its offsets (and all before) may be committed. */
  private acknowledge(flight: InFlight): void {
    flight.acked = true;
    while (this.inFlight[0]?.acked) {
      for (const [k, offset] of this.inFlight.shift()!.offsets) this.committable.set(k, offset);
    }
    if (this.inFlight.length === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** True when a wall-clock punctuation is due: the application then runs an empty batch for it. */
  wallClockDue(): boolean {
    const now = this.env.now();
    return this.punctuations.some((p) => p.type === 'wall-clock' && !p.cancelled && now >= p.next);
  }

  /** The input a punctuation-only batch is attributed to. */
  firstInput(): TopicPartition | undefined {
    return this.inputPartitions()[0];
  }

  /**
   * Runs the punctuations that are due, inside the batch being processed (so
   * they can forward): at the start of a batch, and after each record that
   * moves stream time past a stream-time deadline (as Kafka Streams checks
   * after every record). A punctuator that throws is counted
   * (`veroai_punctuator_failures_total`) and retried at its next deadline;
   * MAX_PUNCTUATOR_FAILURES_IN_A_ROW failures in a row fail the task.
   */
  private async punctuate(types: 'all' | 'stream-time' = 'all'): Promise<void> {
    const now = this.env.now();
    for (const p of this.punctuations) {
      if (p.cancelled || (types === 'stream-time' && p.type !== 'stream-time')) continue;
      const time = p.type === 'wall-clock' ? now : this.streamTimeMs;
      if (time < 0) continue;
      if (p.next === Number.NEGATIVE_INFINITY) p.next = time + p.intervalMs;
      if (time < p.next) continue;
      // once per call, however many intervals passed, as Kafka Streams does
      p.next =
        p.type === 'wall-clock'
          ? time + p.intervalMs
          : p.next + Math.ceil((time - p.next + 1) / p.intervalMs) * p.intervalMs;
      try {
        await p.callback(time);
        p.failuresInARow = 0;
      } catch (error) {
        p.failuresInARow += 1;
        this.env.metrics.punctuatorFailed(p.node);
        this.env.logger.error(
          { task: this.id, node: p.node, err: error, failuresInARow: p.failuresInARow },
          'a punctuator failed',
        );
        if (p.failuresInARow >= MAX_PUNCTUATOR_FAILURES_IN_A_ROW) {
          this.taskFailure ??= new TopologyError(
            `task ${this.id}: the punctuator of '${p.node}' failed ${p.failuresInARow} times in a row: ${(error as Error)?.message ?? String(error)}`,
            'its work (e.g. expiry) is not being done; fix the cause and restart',
          );
        }
      }
    }
    this.streamTimeDue = this.nextStreamTimeDeadline();
  }

  /** Waits for what punctuators forwarded to be processed downstream. */
  private async settleRunners(): Promise<void> {
    for (const runner of this.runners.values()) await runner.settled();
  }

  /** The earliest stream time at which a stream-time punctuation is due. */
  private nextStreamTimeDeadline(): number {
    let due = Number.POSITIVE_INFINITY;
    for (const p of this.punctuations)
      if (!p.cancelled && p.type === 'stream-time' && p.next < due) due = p.next;
    return due;
  }

  /** Batches processed but not yet acknowledged. */
  get backlog(): number {
    return this.inFlight.length;
  }

  /** Resolves when every processed batch is acknowledged. */
  drained(): Promise<void> {
    if (this.inFlight.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Offsets safe to commit since the last call, each with the stream time after its batch. */
  takeCommittable(): CommitOffset[] {
    const out = [...this.committable.values()];
    this.committable.clear();
    return out;
  }

  /** Puts back offsets whose commit failed, unless a newer offset for the partition is waiting. */
  returnCommittable(offsets: readonly CommitOffset[]): void {
    for (const o of offsets) {
      const k = tpKey(o.topic, o.partition);
      if ((this.committable.get(k)?.offset ?? -1) < o.offset) this.committable.set(k, o);
    }
  }

  /**
   * Closes the task's stores. A clean close (every batch acknowledged, or
   * committed under exactly_once) first writes the checkpoint, so the next
   * owner on this machine restores only the changelog's tail; a dirty one
   * (after a failure) leaves no new checkpoint.
   */
  async close(options: { clean: boolean } = { clean: true }): Promise<void> {
    if (options.clean && this.inFlight.length === 0) {
      await this.writeCheckpoint().catch((error) =>
        this.env.logger.warn(
          { task: this.id, err: error },
          'could not write the checkpoint; the next start restores fully',
        ),
      );
    }
    for (const { store } of this.stores.values()) await store.close();
  }

  /** Decodes a record; a promise only when a serde is asynchronous (a schema to fetch). */
  private decode(
    raw: SourceRecord,
    source: { key: Serde<unknown>; value: Serde<unknown>; extract: ((r: AnyRecord) => number) | undefined },
  ): AnyRecord | Promise<AnyRecord> {
    const k = source.key.deserialize(raw.key, raw.topic);
    const v = source.value.deserialize(raw.value, raw.topic);
    if (isPromise(k) || isPromise(v))
      return Promise.all([k, v]).then(([key, value]) => this.decoded(raw, source, key, value));
    return this.decoded(raw, source, k, v);
  }

  private decoded(
    raw: SourceRecord,
    source: { extract: ((r: AnyRecord) => number) | undefined },
    key: unknown,
    value: unknown,
  ): AnyRecord {
    const record: AnyRecord = {
      topic: raw.topic,
      partition: raw.partition,
      offset: raw.offset,
      key,
      value,
      timestamp: raw.timestamp,
      headers: raw.headers,
      origin: raw,
    };
    if (source.extract === undefined) return record;
    const timestamp = source.extract(record);
    if (!Number.isFinite(timestamp) || timestamp < 0) {
      throw new DeserializationError(
        'VEROAI_ERR_DECODE_INVALID',
        `topic '${raw.topic}': the timestamp extractor returned ${timestamp}, not an epoch-millisecond time`,
      );
    }
    return { ...record, timestamp };
  }

  private buildBatchGraph(): { sources: Map<string, Downstream>; counts: NodeCounts[]; done: Promise<void> } {
    const { nodes } = this.subTopology;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const terminals = nodes.filter(
      (n) => n.kind === 'sink' || (n.kind === 'processor' && this.childrenOf(n.name).length === 0),
    ).length;
    let open = terminals;
    const end = () => {
      open -= 1;
      if (open === 0) resolveDone();
    };
    const completion: Downstream = { push: () => undefined, parentEnded: end };
    const hooks: BatchHooks = {
      deadLetter: (record, error, node) => this.deadLetter(record, error, node),
      emit: (record) => this.outputs.push(record),
      partitionFor: (topic, key) => this.env.partitionFor(topic, key),
      timer: NodeTimer.forBatch(),
      failTask: (error) => {
        this.taskFailure ??= error;
        this.onTaskFailure?.();
      },
      isInfrastructureError: (error) =>
        error instanceof VeroaiError && catalogueEntry(error.code)?.failsTask === true,
    };
    const built = new Map<string, Downstream & NodeCounts>();
    const sources = new Map<string, Downstream>();
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const children = this.childrenOf(node.name).map((c) => built.get(c)!);
      if (node.kind === 'sink') {
        built.set(
          node.name,
          new SinkRunner(
            node,
            topicName(node.topic, this.env.applicationId),
            node.parents.length,
            hooks,
            end,
          ),
        );
      } else if (node.kind === 'processor') {
        const instance = this.operators.get(node.name)!;
        const downstream = children.length === 0 ? [completion] : children;
        const runner =
          typeof instance === 'function'
            ? new ProcessorRunner(node.name, instance, downstream, node.parents.length, hooks)
            : new RecordRunner(node.name, instance, downstream, node.parents.length, hooks);
        this.runners.set(node.name, runner);
        built.set(node.name, runner);
      } else {
        const runner = new SourceRunner(node.name, children);
        built.set(node.name, runner);
        sources.set(node.name, runner);
      }
    }
    for (const runner of this.runners.values()) if (runner instanceof ProcessorRunner) runner.start();
    if (terminals === 0) resolveDone();
    return { sources, counts: [...built.values()], done };
  }

  private childrenOf(name: string): readonly string[] {
    return this.children.get(name) ?? [];
  }

  private deadLetter(record: AnyRecord | undefined, error: unknown, node: string): void {
    const source = record?.origin ?? this.currentSource;
    if (source === undefined) {
      this.env.logger.error(
        { task: this.id, node, err: error },
        'a processor failed outside any record; nothing to dead-letter',
      );
      return;
    }
    this.deadLetterRaw(source, error, node);
  }

  private deadLetterRaw(source: SourceRecord, error: unknown, node: string): void {
    const dlq = this.env.deadLetterTopic;
    this.outputs.push(deadLetterRecord(dlq, this.env.partitionCount(dlq), source, error, node));
    const code = error instanceof VeroaiError ? error.code : 'VEROAI_ERR_UNEXPECTED';
    this.env.metrics.deadLettered(source.topic, code);
    this.env.logger.warn(
      {
        task: this.id,
        node,
        topic: source.topic,
        partition: source.partition,
        offset: source.offset,
        code,
        reason: (error as Error)?.message,
      },
      'record sent to the dead-letter topic',
    );
  }

  private contextFor(nodeName: string, storeNames: readonly string[]): ProcessorContext {
    return {
      applicationId: this.env.applicationId,
      taskId: this.id,
      partition: this.partition,
      nodeName,
      streamTime: () => this.streamTimeMs,
      getStateStore: <S extends StateStore>(name: string): S => {
        if (!storeNames.includes(name)) {
          throw new TopologyError(
            `processor '${nodeName}' asked for store '${name}', which is not connected to it`,
            `name it in process(..., { stores: ['${name}'] })`,
          );
        }
        return this.stores.get(name)?.store as unknown as S;
      },
      late: (record, reason) => {
        const source = record.origin ?? this.currentSource;
        if (source === undefined) return;
        const topic = this.env.lateTopic;
        this.outputs.push(
          deadLetterRecord(
            topic,
            this.env.partitionCount(topic),
            source,
            new LateRecordError(reason),
            nodeName,
          ),
        );
        this.env.metrics.late(nodeName);
      },
      schedule: (intervalMs, type, callback) => {
        if (!Number.isInteger(intervalMs) || intervalMs <= 0) {
          throw new TopologyError(
            `processor '${nodeName}': schedule() needs a positive whole number of milliseconds, got ${intervalMs}`,
          );
        }
        const punctuation: Punctuation = {
          node: nodeName,
          intervalMs,
          type,
          callback,
          cancelled: false,
          failuresInARow: 0,
          // wall-clock starts now; stream-time at the first stream time seen
          next: type === 'wall-clock' ? this.env.now() + intervalMs : Number.NEGATIVE_INFINITY,
        };
        this.punctuations.push(punctuation);
        if (type === 'stream-time') this.streamTimeDue = Number.NEGATIVE_INFINITY;
        return {
          cancel: () => {
            punctuation.cancelled = true;
          },
        };
      },
      forward: <K, V>(record: StreamRecord<K, V>) => {
        const runner = this.runners.get(nodeName);
        if (runner === undefined) {
          throw new TopologyError(
            `processor '${nodeName}' called forward() outside of a batch`,
            'forward only while processing or from a punctuator',
          );
        }
        runner.forward(record as AnyRecord);
      },
    };
  }
}

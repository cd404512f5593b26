import type { Logger } from 'pino';
import { LateRecordError, ProcessingError, TopologyError, VeroaiError } from '../errors.js';
import type { SubTopology } from '../plan/topology.js';
import { topicName } from '../plan/topology.js';
import type { ProcessorContext } from '../processor.js';
import { isPromise } from '../promises.js';
import type { OutgoingRecord, SourceRecord, StreamRecord, TopicPartition } from '../record.js';
import { tpKey } from '../record.js';
import type { StateStore, StoreType } from '../state/store.js';
import type { CommitOffset, ConsumedBatch, Transport } from '../transports/transport.js';
import type { ChangelogRestore } from './changelog-restorer.js';
import { deadLetterRecord } from './dead-letter.js';
import { CommitTracker } from './internal/commit-tracker.js';
import { InPlaceRecords, type KeptRecord } from './internal/in-place-records.js';
import { PunctuationSchedule } from './internal/punctuation-schedule.js';
import { decodeRecord, type SourceFormat } from './internal/record-decoder.js';
import { type ProcessorInstance, TaskGraph } from './internal/task-graph.js';
import { TaskState } from './internal/task-state.js';
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
  /** The input position of the batch's first record (none for a batch without records). */
  readonly from: CommitOffset | undefined;
  readonly acknowledge: () => void;
}

/**
 * One task: a sub-topology bound to one partition. It processes the batches
 * of its input partitions in order, owns its state stores, keeps stream time,
 * and knows which offsets are safe to commit: only those whose batch output
 * (results, changelog writes, dead letters) has been acknowledged.
 */
export class StreamTask {
  readonly id: string;
  /** The sub-topology's nodes for this task, built once. */
  private readonly graph: TaskGraph;
  private readonly state: TaskState;
  private readonly offsets = new CommitTracker();
  private readonly schedule: PunctuationSchedule;
  /** An infrastructure error (a store failed) raised while processing the batch: the batch fails. */
  private taskFailure: unknown;
  /** Wakes a batch waiting for its graph to finish when the task fails instead. */
  private onTaskFailure: (() => void) | undefined;
  private readonly topicToSource = new Map<string, SourceFormat & { name: string }>();
  /** What the task's repartitions in place keep during a batch's first pass. */
  private readonly inPlace: InPlaceRecords;
  private outputs: OutgoingRecord[] = [];
  private streamTimeMs = -1;
  private currentSource: SourceRecord | undefined;
  private lock: Promise<void> = Promise.resolve();
  private closed = false;
  /** Per input partition, the first offset this task has not yet reflected (see startAt): what it skips below. */
  private readonly startOffsets = new Map<string, number>();

  constructor(
    readonly subTopology: SubTopology,
    readonly partition: number,
    private readonly env: TaskEnvironment,
  ) {
    this.id = `${subTopology.id}_${partition}`;
    this.schedule = new PunctuationSchedule(this.id, env.metrics, env.logger, env.now);
    this.state = new TaskState(subTopology, {
      applicationId: env.applicationId,
      taskId: this.id,
      partition,
      transport: env.transport,
      logger: env.logger,
      readCommitted: env.readCommitted,
      stateDir: env.stateDir,
      defaultStoreType: env.defaultStoreType,
      now: env.now,
      emit: (r) => this.outputs.push(r),
    });
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
    this.inPlace = new InPlaceRecords(new Map([...this.topicToSource.values()].map((s) => [s.name, s])));
    // each processor's supplier is called once per task (its `init`), in topology order
    const instances = new Map<string, ProcessorInstance>();
    for (const node of subTopology.nodes)
      if (node.kind === 'processor')
        instances.set(node.name, node.supplier(this.contextFor(node.name, node.stores)) as ProcessorInstance);
    this.graph = new TaskGraph(
      subTopology,
      env.applicationId,
      instances,
      {
        deadLetter: (record, error, node) => this.deadLetter(record, error, node),
        emit: (record) => this.outputs.push(record),
        partitionFor: (topic, key) => env.partitionFor(topic, key),
        keepInPlace: (source, record, bytes) =>
          this.keepInPlace({ input: this.currentSource, source, record, bytes }),
        failTask: (error) => this.failTask(error),
      },
      partition,
    );
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
    if (time !== undefined) this.advanceStreamTime(time);
  }

  store(name: string): StateStore | undefined {
    return this.state.store(name);
  }

  /** Opens the task's stores and tells what each changelogged one must replay first (see TaskState.open). */
  openStores(): Promise<ChangelogRestore[]> {
    return this.state.open();
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
      if (this.state.writesSinceCheckpoint < minWrites) return;
      if (!this.offsets.settled) return;
      await this.state.writeCheckpoint();
    });
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
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
   * completed) skip them. The task moves this mark past every batch it
   * processes too: a consumer that reconnected after losing the brokers
   * fetches again from the committed offsets, and records this task has
   * processed (their output sent or still queued) are not counted twice.
   */
  startAt(topic: string, partition: number, offset: number): void {
    this.startOffsets.set(tpKey(topic, partition), offset);
  }

  private async processNow(fetched: ConsumedBatch): Promise<ProcessedBatch> {
    // closed (migrated, revoked) while this batch waited for the one before it: nothing to do
    if (this.closed) return { records: [], offsets: [], from: undefined, acknowledge: () => undefined };
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
    await this.runThroughGraph(batch.records, source);
    if (this.taskFailure !== undefined) throw this.taskFailure;
    for (const c of this.graph.counts()) this.env.metrics.processed(c);
    await this.state.expireWindows(this.streamTimeMs);
    await this.state.flush();
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
    if (last !== undefined) this.startOffsets.set(tpKey(batch.topic, batch.partition), last.offset + 1);
    const acknowledge = this.offsets.track(offsets);
    const records = this.outputs;
    this.outputs = [];
    const first = batch.records[0];
    const from =
      first === undefined
        ? undefined
        : { topic: batch.topic, partition: batch.partition, offset: first.offset };
    return { records, offsets, from, acknowledge };
  }

  /**
   * Runs a batch's records through the graph one at a time (with the
   * punctuations they make due), ends the batch, and waits until every node
   * has finished it or the task has failed.
   */
  private async runThroughGraph(
    records: readonly SourceRecord[],
    source: SourceFormat & { name: string },
  ): Promise<void> {
    try {
      const done = this.graph.beginBatch();
      const entry = this.graph.source(source.name);
      await this.punctuate('all');
      // a source that feeds a repartition in place is run in two passes (see runKept)
      const twoPasses = this.subTopology.twoPassSources.has(source.name);
      if (twoPasses) this.inPlace.collect();
      // after the punctuations, whose store scans flush (a flush forgets what was read ahead);
      // decoded ahead when a processor reads ahead for the records it will get
      const ahead = this.graph.readsAhead(source.name) ? await decodeAll(records, source) : undefined;
      await Promise.all([
        // the first pass keeps no state (checked when the topology is built): the second reads ahead
        twoPasses ? undefined : this.state.readAhead(records),
        ahead === undefined ? undefined : this.readAhead(source.name, ahead),
      ]);
      // one record at a time through the whole graph, as Kafka Streams does: a processor sees the
      // stream time (and the state) of the record it processes, never of records behind it
      for (let i = 0; i < records.length; i++) {
        if (this.taskFailure !== undefined) break;
        const raw = records[i]!;
        this.currentSource = raw;
        let record: AnyRecord;
        try {
          const decoded = ahead === undefined ? decodeRecord(raw, source) : ahead[i]!;
          if (decoded instanceof DecodeFailure) throw decoded.error;
          record = isPromise(decoded) ? await decoded : decoded;
        } catch (error) {
          this.deadLetterRaw(raw, error, source.name);
          continue;
        }
        // advanced when the record is processed (not when decoded): a record that cannot be decoded has no
        // time; in a first pass, in the second instead, with the records that reach the state
        if (!twoPasses) this.advanceStreamTime(record.timestamp);
        const pending = entry.push(record);
        if (pending !== undefined) await pending;
        if (!twoPasses && this.schedule.streamTimeReached(this.streamTimeMs))
          await this.punctuate('stream-time');
      }
      if (twoPasses && this.taskFailure === undefined) await this.runKept();
      if (this.taskFailure === undefined) await this.graph.endBatch();
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
    } finally {
      this.inPlace.take();
      this.currentSource = undefined;
      this.graph.closeBatch();
    }
  }

  /**
   * The second pass of a batch whose source feeds a repartition in place:
   * the first pass ran the steps before the repartition (stateless, and
   * without moving stream time); here the records it kept go on from the
   * source node that reads the topic back, read ahead all at once, each
   * moving stream time as it is processed, the stream-time punctuations run
   * where they fall. The task's state sees what it would have seen had the
   * records crossed the topic in this order: a record the first pass dropped
   * (an invalid event, one sent to another partition) moves no stream time,
   * as it would not have reached this task.
   */
  private async runKept(): Promise<void> {
    const kept = this.inPlace.take();
    const decoding = kept.map((k) => this.decodeKept(k));
    const decoded = decoding.some(isPromise)
      ? await Promise.all(decoding)
      : (decoding as (AnyRecord | undefined)[]);
    await Promise.all([
      this.state.readAhead(kept.map((k) => k.bytes)),
      ...[...new Set(kept.map((k) => k.source))].map((source) =>
        this.readAhead(
          source,
          decoded.filter((r, i): r is AnyRecord => r !== undefined && kept[i]!.source === source),
        ),
      ),
    ]);
    for (let i = 0; i < kept.length; i++) {
      if (this.taskFailure !== undefined) return;
      const record = decoded[i];
      if (record === undefined) continue;
      this.currentSource = kept[i]!.input;
      this.advanceStreamTime(record.timestamp);
      const pending = this.graph.source(kept[i]!.source).push(record);
      if (pending !== undefined) await pending;
      if (this.schedule.streamTimeReached(this.streamTimeMs)) await this.punctuate('stream-time');
    }
  }

  /** A kept record as its source reads it; undefined once dead-lettered (it does not decode). */
  private decodeKept(kept: KeptRecord): AnyRecord | undefined | Promise<AnyRecord | undefined> {
    try {
      const decoded = this.inPlace.decode(kept);
      return isPromise(decoded)
        ? decoded.catch((error: unknown) => this.deadLetterKept(kept, error))
        : decoded;
    } catch (error) {
      return this.deadLetterKept(kept, error);
    }
  }

  private deadLetterKept(kept: KeptRecord, error: unknown): undefined {
    this.deadLetter(kept.record, error, kept.source);
    return undefined;
  }

  /**
   * A record a repartition in place keeps: for the second pass while the
   * first runs, else (a punctuation's output, a batch's end) on at once.
   */
  private keepInPlace(kept: KeptRecord): void | Promise<void> {
    if (this.inPlace.keep(kept)) return;
    const decoded = this.decodeKept(kept);
    const push = (record: AnyRecord | undefined) => {
      if (record === undefined) return;
      this.advanceStreamTime(record.timestamp);
      return this.graph.source(kept.source).push(record);
    };
    return isPromise(decoded) ? decoded.then(push) : push(decoded);
  }

  /** Stream time only moves forward: with each record processed (not decoded), and from committed metadata. */
  private advanceStreamTime(timestamp: number): void {
    if (timestamp > this.streamTimeMs) this.streamTimeMs = timestamp;
  }

  /** Lets the processors fed by `source` read ahead for the batch's decoded records; a failure is only logged. */
  private async readAhead(source: string, decoded: ReadonlyArray<AnyRecord | DecodeFailure>): Promise<void> {
    const records = decoded.filter((r): r is AnyRecord => !(r instanceof DecodeFailure));
    for (const [node, error] of await this.graph.readAhead(source, records))
      this.env.logger.warn(
        { task: this.id, node, err: error },
        'read-ahead failed: the batch reads its state from disk, record by record',
      );
  }

  /** True when a wall-clock punctuation is due: the application then runs an empty batch for it. */
  wallClockDue(): boolean {
    return this.schedule.wallClockDue();
  }

  /** The input a punctuation-only batch is attributed to. */
  firstInput(): TopicPartition | undefined {
    return this.inputPartitions()[0];
  }

  /**
   * Runs the due punctuations inside the batch being processed (so they can
   * forward), then waits for what they forwarded to be processed downstream.
   * Too many failures in a row of one punctuator fail the task.
   */
  private async punctuate(types: 'all' | 'stream-time'): Promise<void> {
    const failure = await this.schedule.run(this.streamTimeMs, types);
    if (failure !== undefined) this.failTask(failure);
    await this.graph.settled();
  }

  private failTask(error: unknown): void {
    this.taskFailure ??= error;
    this.onTaskFailure?.();
  }

  /** Batches processed but not yet acknowledged. */
  get backlog(): number {
    return this.offsets.backlog;
  }

  /** Resolves when every processed batch is acknowledged. */
  drained(): Promise<void> {
    return this.offsets.drained();
  }

  /** Offsets safe to commit since the last call, each with the stream time after its batch. */
  takeCommittable(): CommitOffset[] {
    return this.offsets.take();
  }

  /** Puts back offsets whose commit failed, unless a newer offset for the partition is waiting. */
  returnCommittable(offsets: readonly CommitOffset[]): void {
    this.offsets.giveBack(offsets);
  }

  /**
   * Closes the task's stores. A clean close (every batch acknowledged, or
   * committed under exactly_once) first writes the checkpoint, so the next
   * owner on this machine restores only the changelog's tail; a dirty one
   * (after a failure) leaves no new checkpoint.
   */
  async close(options: { clean: boolean } = { clean: true }): Promise<void> {
    this.closed = true;
    if (options.clean && this.offsets.backlog === 0) {
      await this.state
        .writeCheckpoint()
        .catch((error) =>
          this.env.logger.warn(
            { task: this.id, err: error },
            'could not write the checkpoint; the next start restores fully',
          ),
        );
    }
    await this.state.close();
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
        return this.state.store(name) as unknown as S;
      },
      deadLetter: (record, error) => this.deadLetter(record, new ProcessingError(nodeName, error), nodeName),
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
      schedule: (intervalMs, type, callback) => this.schedule.add(nodeName, intervalMs, type, callback),
      forward: <K, V>(record: StreamRecord<K, V>) => this.graph.forward(nodeName, record as AnyRecord),
    };
  }
}

/** A record that could not be decoded, kept in its place in a batch decoded ahead (it is dead-lettered in turn). */
class DecodeFailure {
  constructor(readonly error: unknown) {}
}

/** Decodes a batch's records ahead, each to its record or to the failure to dead-letter in its turn. */
async function decodeAll(
  records: readonly SourceRecord[],
  source: SourceFormat,
): Promise<Array<AnyRecord | DecodeFailure>> {
  const out: Array<AnyRecord | DecodeFailure> = [];
  for (const raw of records) {
    try {
      const decoded = decodeRecord(raw, source);
      out.push(isPromise(decoded) ? await decoded : decoded);
    } catch (error) {
      out.push(new DecodeFailure(error));
    }
  }
  return out;
}

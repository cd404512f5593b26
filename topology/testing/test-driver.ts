import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { TopologyError } from '../errors.js';
import type { SinkNode, SourceNode } from '../plan/graph.js';
import { deadLetterTopic, lateRecordsTopic, type Topology, topicName } from '../plan/topology.js';
import type { Headers, SourceRecord } from '../record.js';
import { partitionForKey } from '../runtime/partitioner.js';
import { StreamsApplication } from '../runtime/streams-application.js';
import type { Serde } from '../serdes/serde.js';
import type { StoreType } from '../state/store.js';
import { MemoryTransport } from '../transports/memory/memory-transport.js';

export interface TestDriverOptions {
  applicationId?: string;
  /** Partitions of each external topic, by name; default `defaultPartitions`. */
  partitions?: Record<string, number>;
  defaultPartitions?: number;
  /** Initial wall-clock time (epoch ms). Default 0. */
  startTime?: number;
  /** How long a pipeInput waits for the topology to settle before it calls it a hang. Default 60 s. */
  settleTimeoutMs?: number;
  /** The backend of stores whose DSL options do not choose one (StreamsApplication's). Default `memory`. */
  defaultStoreType?: StoreType;
  /**
   * Where `rocksdb` stores keep their files (StreamsApplication's); a test
   * that gives one removes it when done. Default: a directory of this driver
   * alone, deleted by close() (as Kafka Streams' TopologyTestDriver).
   */
  stateDir?: string;
}

export interface TestOutputRecord<K, V> {
  readonly key: K;
  readonly value: V;
  readonly timestamp: number;
  readonly partition: number;
  readonly offset: number;
  readonly headers: Headers;
}

/** How long `pipeInput` waits for the topology to settle before calling it a hang. */
const DEFAULT_SETTLE_TIMEOUT_MS = 60_000;
/** Event-loop turns a settle spins through before it naps between checks. */
const SPIN_ROUNDS = 10_000;

/**
 * Runs a topology on the memory transport with no broker, like Kafka Streams'
 * TopologyTestDriver. Each `pipeInput` returns once the record and everything it
 * caused (through repartition topics too) has been processed. Wall-clock time
 * moves only when the test calls `advanceTime`. It does not depend on any test
 * framework.
 *
 * @example
 * const driver = await TestDriver.create(builder.build());
 * await driver.pipeInput('raw_events', 'acme/u1', event, 1_000);
 * const out = driver.readOutput<string, number>('counts');
 */
export class TestDriver {
  private wallClock: number;
  private readonly readPositions = new Map<string, number[]>();

  private constructor(
    readonly topology: Topology,
    readonly transport: MemoryTransport,
    readonly app: StreamsApplication,
    startTime: number,
    private readonly settleTimeoutMs: number,
    /** The state directory create() made for this driver alone: close() deletes it. */
    private readonly ownStateDir?: string,
  ) {
    this.wallClock = startTime;
  }

  static async create(topology: Topology, options: TestDriverOptions = {}): Promise<TestDriver> {
    const transport = new MemoryTransport();
    const applicationId = options.applicationId ?? 'test-app';
    const external = new Set<string>();
    for (const node of topology.nodes.values()) {
      if (node.kind === 'source')
        for (const t of node.topics) if (t.kind === 'external') external.add(t.name);
      if (node.kind === 'sink' && node.topic.kind === 'external') external.add(node.topic.name);
    }
    await transport.ensureTopics(
      [...external].map((name) => ({
        name,
        partitions: options.partitions?.[name] ?? options.defaultPartitions ?? 1,
      })),
    );
    let driver: TestDriver | undefined;
    const ownStateDir =
      options.stateDir === undefined ? await mkdtemp(join(tmpdir(), 'veroai-test-driver-')) : undefined;
    const app = new StreamsApplication(topology, {
      applicationId,
      transport,
      clock: () => driver?.wallClock ?? options.startTime ?? 0,
      commitIntervalMs: 60_000,
      ...(options.defaultStoreType === undefined ? {} : { defaultStoreType: options.defaultStoreType }),
      stateDir: options.stateDir ?? ownStateDir,
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      metricsRegistry: new Registry(),
    });
    driver = new TestDriver(
      topology,
      transport,
      app,
      options.startTime ?? 0,
      options.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS,
      ownStateDir,
    );
    await app.start();
    return driver;
  }

  /** Writes a record to a source topic with that topic's serdes and processes everything it causes. */
  async pipeInput<K, V>(
    topic: string,
    key: K,
    value: V,
    timestamp = this.wallClock,
    headers: Headers = {},
  ): Promise<void> {
    await this.pipeInputs(topic, [{ key, value, timestamp, headers }]);
  }

  /**
   * Writes records to a source topic together, then processes everything they
   * cause: the records of one partition arrive in one batch, as a consumer
   * fetching a busy partition gets them.
   */
  async pipeInputs<K, V>(
    topic: string,
    records: ReadonlyArray<{
      readonly key: K;
      readonly value: V;
      readonly timestamp?: number;
      readonly headers?: Headers;
    }>,
  ): Promise<void> {
    const source = this.sourceFor(topic);
    await source.keySerde.prepare?.(topic);
    await source.valueSerde.prepare?.(topic);
    for (const r of records)
      this.append(
        topic,
        source.keySerde.serialize(r.key, topic),
        source.valueSerde.serialize(r.value, topic),
        r.timestamp ?? this.wallClock,
        r.headers ?? {},
      );
    this.transport.log.notify();
    await this.settle();
  }

  /** Writes raw bytes to a topic (e.g. corrupt data) and processes everything it causes. */
  async pipeRawInput(
    topic: string,
    key: Buffer | null,
    value: Buffer | null,
    timestamp = this.wallClock,
    headers: Headers = {},
  ): Promise<void> {
    this.append(topic, key, value, timestamp, headers);
    this.transport.log.notify();
    await this.settle();
  }

  private append(
    topic: string,
    key: Buffer | null,
    value: Buffer | null,
    timestamp: number,
    headers: Headers,
  ) {
    const partitions = this.transport.log.partitionCount(topic);
    if (partitions === undefined) throw new TopologyError(`pipeInput(): topic '${topic}' does not exist`);
    this.transport.log.append({
      topic,
      partition: partitionForKey(key, partitions, () => 0),
      key,
      value,
      timestamp,
      headers,
    });
  }

  /** Moves wall-clock time forward (for wall-clock punctuators). */
  async advanceTime(ms: number): Promise<void> {
    this.wallClock += ms;
    await this.app.punctuate();
    await this.settle();
  }

  now(): number {
    return this.wallClock;
  }

  /** Records written to a sink topic since the last read, decoded with the sink's serdes. */
  readOutput<K, V>(topic: string): Array<TestOutputRecord<K, V>> {
    const sink = this.sinkFor(topic);
    return this.readRaw(topic).map((r) => ({
      key: sink.keySerde.deserialize(r.key, topic) as K,
      value: sink.valueSerde.deserialize(r.value, topic) as V,
      timestamp: r.timestamp,
      partition: r.partition,
      offset: r.offset,
      headers: r.headers,
    }));
  }

  /** Raw records of any topic (e.g. the dead-letter topic) since the last read. */
  readRaw(topic: string): SourceRecord[] {
    const ends = this.transport.log.endOffsets(topic);
    const positions = this.readPositions.get(topic) ?? ends.map(() => 0);
    const out: SourceRecord[] = [];
    ends.forEach((end, p) => {
      out.push(...this.transport.log.read(topic, p, positions[p] ?? 0, end - (positions[p] ?? 0)));
      positions[p] = end;
    });
    this.readPositions.set(topic, positions);
    // in the order written per partition, as a consumer of the topic sees it
    return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  }

  /** The dead-letter topic's records since the last read. */
  readDeadLetters(): SourceRecord[] {
    return this.readRaw(deadLetterTopic(this.app.applicationId));
  }

  /** Records that came after their window closed (`<applicationId>-late`) since the last read. */
  readLateRecords(): SourceRecord[] {
    return this.readRaw(lateRecordsTopic(this.app.applicationId));
  }

  async close(): Promise<void> {
    try {
      await this.app.stop();
      await this.transport.close();
    } finally {
      if (this.ownStateDir !== undefined) await rm(this.ownStateDir, { recursive: true, force: true });
    }
  }

  /**
   * Waits until the transport is idle and no batch runs, twice in a row. The
   * bound is wall time, not event-loop turns: a store call on a loaded
   * machine (RocksDB works on libuv's thread pool) may take longer than any
   * count of turns, and is still no hang.
   */
  private async settle(): Promise<void> {
    let quiet = 0;
    const deadline = Date.now() + this.settleTimeoutMs;
    for (let round = 0; ; round++) {
      // turns first, then 1 ms naps: a long wait does not spin a core
      await new Promise((resolve) => (round < SPIN_ROUNDS ? setImmediate(resolve) : setTimeout(resolve, 1)));
      if (this.transport.isIdle() && !this.app.busy()) {
        quiet += 1;
        if (quiet >= 2) return;
      } else {
        quiet = 0;
      }
      if (Date.now() > deadline)
        throw new Error(
          `TestDriver: the topology did not settle within ${this.settleTimeoutMs / 1000} s; is a processor waiting on something that never completes?`,
        );
    }
  }

  private sourceFor(topic: string): SourceNode {
    for (const node of this.topology.nodes.values()) {
      if (node.kind === 'source' && node.topics.some((t) => topicName(t, this.app.applicationId) === topic))
        return node;
    }
    throw new TopologyError(
      `pipeInput(): '${topic}' is not a source topic of this topology`,
      'use pipeRawInput() for other topics',
    );
  }

  private sinkFor(topic: string): { keySerde: Serde<unknown>; valueSerde: Serde<unknown> } {
    for (const node of this.topology.nodes.values()) {
      if (node.kind === 'sink' && topicName((node as SinkNode).topic, this.app.applicationId) === topic)
        return node;
    }
    throw new TopologyError(
      `readOutput(): '${topic}' is not a sink topic of this topology`,
      'use readRaw() for other topics',
    );
  }
}

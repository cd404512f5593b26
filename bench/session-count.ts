/**
 * Session count at scale: 1M records over 100k keys (3 partitions) counted in
 * session windows of a 5-minute inactivity gap on RocksDB, final results only
 * (suppress untilWindowCloses), in a process of its own with its old space
 * bounded (256 MB by default).
 *
 * The input is generated from a seed: keys drawn uniformly, event time
 * advancing by a fixed step per record over `--span-minutes` (60 by default:
 * each key gets ~10 records an hour, ~6 min apart on average, so most keys
 * open and close a few sessions an hour), and an `--out-of-order` share of
 * records shifted back by 1 s to twice the gap (some of them too late even
 * for their session, with grace 0). The event time is the record's
 * timestamp. The generator prints the key spread and the share out of order,
 * and replays the engine's semantics to know how many final windows to
 * expect (`expected_windows`; the output is read back and its distinct
 * windows counted) and the most windows open at once (`peak_open_windows`,
 * summed over partitions: the suppress buffer's size). The defaults hold
 * ~57k open at once, not 1M (a key's sessions close 5 min after its last
 * record); `--keys 1000000 --grace-ms 86400000` holds ~924k (none closes).
 *
 * Measured from the parent, the same way for any engine: the time from the
 * child's start of the application to its group's first committed offset
 * (`first_commit_s`), and to committed offsets equal to the input's end
 * (`zero_lag_s`, which gives `rps`); the child's peak RSS (VmHWM). In the same
 * run, the raw-client limit: a plain kafkajs consumer reading the same input
 * (`raw_rps`, `ratio` = rps / raw_rps). With `--kafka-streams` the same
 * topology runs on Kafka Streams (bench/kafka-streams) instead of the engine.
 */
import { readFile } from 'node:fs/promises';
import { Kafka, logLevel } from 'kafkajs';
import { createTopic, ensureKafka, uniqueName } from '../deploy/kafka/local-broker.js';
import { seededRandom as random } from '../processors/seeded-random.js';
import type { ProcessingGuarantee } from '../topology/index.js';
import { partitionForKey } from '../topology/runtime/partitioner.js';
import { KafkaTransport } from '../topology/transports/kafka/index.js';
import { MinHeap } from '../topology/windows/min-heap.js';
import { benchName } from './bench-topics.js';
import { runInChild } from './child-process.js';
import { rawConsume } from './raw-consumer.js';
import type { SessionCountJob, SessionCountProgress, SessionCountResult } from './session-count-child.js';
import { log } from './stateless.js';

const GAP_MS = 5 * 60_000;
const ORIGIN_MS = 1_700_000_000_000;

export interface SessionCountOptions {
  readonly records: number;
  readonly keys: number;
  readonly partitions: number;
  readonly spanMinutes: number;
  readonly outOfOrder: number;
  readonly graceMs: number;
  readonly guarantee: ProcessingGuarantee;
  readonly heapMb: number;
  readonly seed: number;
  readonly timeoutS: number;
  /**
   * How often both engines commit. Time to zero lag is read from committed
   * offsets, so it cannot be finer than this: at Kafka Streams' own default
   * (30 s at_least_once) a run measures 32 s or 62 s for the same work.
   */
  readonly commitIntervalMs: number;
  /** More flags for the engine's node process, space-separated (e.g. `--max-semi-space-size=32 --trace-gc`). */
  readonly nodeOptions?: string;
  /** Samples the engine's allocations (collected ones included) into this .heapprofile file. */
  readonly allocProf?: string;
  /** Writes a V8 CPU profile of the engine's process into this folder. */
  readonly cpuProf?: string;
  readonly kafkaStreams?: boolean;
  /** Reuses an input topic written by an earlier run with the same workload options (skips the fill). */
  readonly input?: string;
}

interface Generated {
  readonly key: string;
  readonly keyBytes: Buffer;
  readonly partition: number;
  readonly timestamp: number;
  readonly value: Buffer;
}

/** The workload, record by record, in the order it is written. */
function* workload(options: SessionCountOptions): Generator<Generated> {
  const next = random(options.seed);
  const spanMs = options.spanMinutes * 60_000;
  const width = String(options.keys - 1).length;
  for (let i = 0; i < options.records; i++) {
    const k = Math.floor(next() * options.keys);
    const key = `key-${String(k).padStart(width, '0')}`;
    let timestamp = ORIGIN_MS + Math.floor((i * spanMs) / options.records);
    if (next() < options.outOfOrder) timestamp -= 1_000 + Math.floor(next() * (2 * GAP_MS - 1_000));
    const keyBytes = Buffer.from(key);
    const value = Buffer.from(
      `{"seq":${i},"user":"${key}","type":"${i % 3 === 0 ? 'pageview' : 'api_call'}","path":"/api/v1/items/${i % 1000}","status":200}`,
    );
    yield {
      key,
      keyBytes,
      partition: partitionForKey(keyBytes, options.partitions, () => 0),
      timestamp,
      value,
    };
  }
}

/**
 * Replays the engine's semantics over one partition's records in order: stream
 * time, session merging with lateness (a merged session whose end + gap +
 * grace is behind stream time is late), and suppress (a buffered window is
 * emitted once stream time is past its end + gap + grace; a retraction before
 * that drops it). Counts the final windows emitted.
 */
class ExpectedFinals {
  private streamTime = -1;
  private readonly sessions = new Map<string, Array<{ start: number; end: number }>>();
  private readonly buffered = new Map<string, number>();
  private readonly closing = new MinHeap<{ closesAt: number; id: string }>((a, b) => a.closesAt - b.closesAt);
  emitted = 0;
  late = 0;
  /** The most windows buffered (open) at once. */
  peakOpen = 0;

  constructor(
    private readonly gapMs: number,
    private readonly graceMs: number,
  ) {}

  add(key: string, t: number): void {
    if (t > this.streamTime) this.streamTime = t;
    const own = this.sessions.get(key) ?? [];
    const overlapping = own.filter((s) => s.end >= t - this.gapMs && s.start <= t + this.gapMs);
    const merged = { start: t, end: t };
    for (const s of overlapping) {
      merged.start = Math.min(merged.start, s.start);
      merged.end = Math.max(merged.end, s.end);
    }
    if (merged.end + this.gapMs + this.graceMs < this.streamTime) {
      this.late += 1;
      return;
    }
    const id = (s: { start: number; end: number }) => `${key}@${s.start}:${s.end}`;
    for (const s of overlapping) {
      if (s.start === merged.start && s.end === merged.end) continue;
      this.buffered.delete(id(s));
      this.emitClosed();
    }
    this.sessions.set(key, [...own.filter((s) => !overlapping.includes(s)), merged]);
    const mergedId = id(merged);
    if (!this.buffered.has(mergedId)) {
      const closesAt = merged.end + this.gapMs + this.graceMs + 1;
      this.buffered.set(mergedId, closesAt);
      this.closing.push({ closesAt, id: mergedId });
    }
    this.peakOpen = Math.max(this.peakOpen, this.buffered.size);
    this.emitClosed();
  }

  private emitClosed(): void {
    for (let top = this.closing.peek(); top !== undefined && top.closesAt <= this.streamTime; ) {
      this.closing.pop();
      if (this.buffered.get(top.id) === top.closesAt) {
        this.buffered.delete(top.id);
        this.emitted += 1;
      }
      top = this.closing.peek();
    }
  }
}

interface WorkloadStats {
  readonly bytes: number;
  readonly keySpread: {
    distinct: number;
    min: number;
    max: number;
    mean: number;
    stddev: number;
  };
  readonly partitionRecords: number[];
  readonly outOfOrderFraction: number;
  readonly expectedWindows: number;
  readonly expectedLate: number;
  /** Sum over partitions of the most windows open at once in each (the replay's suppress buffer). */
  readonly peakOpenWindows: number;
}

/** Generates the workload; writes it to `topic` unless `write` is false. */
async function generate(
  kafka: Kafka,
  topic: string,
  options: SessionCountOptions,
  write: boolean,
): Promise<WorkloadStats> {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  if (write) await producer.connect();
  const perKey = new Map<string, number>();
  const partitionRecords = new Array<number>(options.partitions).fill(0);
  const partitionMax = new Array<number>(options.partitions).fill(-1);
  const expected = Array.from(
    { length: options.partitions },
    () => new ExpectedFinals(GAP_MS, options.graceMs),
  );
  let outOfOrder = 0;
  let bytes = 0;
  let messages: Array<{ key: Buffer; value: Buffer; partition: number; timestamp: string }> = [];
  const flush = async () => {
    if (write && messages.length > 0) await producer.send({ topic, acks: -1, messages });
    messages = [];
  };
  for (const r of workload(options)) {
    perKey.set(r.key, (perKey.get(r.key) ?? 0) + 1);
    partitionRecords[r.partition]! += 1;
    if (r.timestamp < partitionMax[r.partition]!) outOfOrder += 1;
    else partitionMax[r.partition] = r.timestamp;
    expected[r.partition]!.add(r.key, r.timestamp);
    bytes += r.keyBytes.length + r.value.length;
    messages.push({
      key: r.keyBytes,
      value: r.value,
      partition: r.partition,
      timestamp: String(r.timestamp),
    });
    // ~1.5 MB a request, ~0.5 MB a partition: under the broker's 1 MiB record batch
    if (messages.length >= 10_000) await flush();
  }
  await flush();
  if (write) await producer.disconnect();
  const counts = [...perKey.values()];
  const mean = options.records / options.keys;
  const variance = counts.reduce((s, c) => s + (c - mean) ** 2, 0) / options.keys;
  return {
    bytes,
    keySpread: {
      distinct: perKey.size,
      min: perKey.size < options.keys ? 0 : counts.reduce((m, c) => Math.min(m, c), Number.POSITIVE_INFINITY),
      max: counts.reduce((m, c) => Math.max(m, c), 0),
      mean,
      stddev: Number(Math.sqrt(variance).toFixed(2)),
    },
    partitionRecords,
    outOfOrderFraction: Number((outOfOrder / options.records).toFixed(4)),
    expectedWindows: expected.reduce((s, e) => s + e.emitted, 0),
    expectedLate: expected.reduce((s, e) => s + e.late, 0),
    peakOpenWindows: expected.reduce((s, e) => s + e.peakOpen, 0),
  };
}

/** Peak resident memory of a process, MiB (VmHWM); undefined once it has exited. */
async function peakRssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far; undefined once it has exited. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces), from field 3 on: utime and stime are 14 and 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** USER_HZ: Linux reports process times in 1/100 s on every architecture it runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** An engine process under measurement. */
export interface Engine {
  /** Resolves with the pid and the wall-clock moment the application is started. */
  readonly started: Promise<{ pid: number; at: number }>;
  /** Rejects when the process fails (exits non-zero, or reports a fatal error). */
  readonly failed: Promise<never>;
  /** Asks the process to stop cleanly; resolves with what it reports. */
  stop(): Promise<SessionCountResult>;
}

function engineInChild(job: SessionCountJob, options: SessionCountOptions): Engine {
  const nodeOptions: string[] = [];
  if (options.heapMb > 0) nodeOptions.push(`--max-old-space-size=${options.heapMb}`);
  if (options.cpuProf !== undefined) nodeOptions.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProf}`);
  if (options.nodeOptions !== undefined)
    nodeOptions.push(...options.nodeOptions.split(/\s+/).filter(Boolean));
  let onStarted!: (s: { pid: number; at: number }) => void;
  const started = new Promise<{ pid: number; at: number }>((resolve) => {
    onStarted = resolve;
  });
  let pid = 0;
  let failure: string | undefined;
  const result = runInChild<SessionCountJob, SessionCountResult>(
    new URL('./session-count-child.ts', import.meta.url),
    job,
    nodeOptions,
    (progress) => {
      const p = progress as SessionCountProgress;
      if (p.kind === 'starting') {
        pid = p.pid;
        onStarted({ pid: p.pid, at: p.at });
      } else if (p.kind === 'failed') failure = p.message;
    },
  );
  const failed = result.then(
    () => new Promise<never>(() => undefined),
    (error: Error) => {
      throw new Error(failure ?? error.message);
    },
  );
  failed.catch(() => undefined);
  return {
    started,
    failed,
    stop: async () => {
      process.kill(pid, 'SIGTERM');
      return result;
    },
  };
}

export async function benchSessionCount(options: SessionCountOptions) {
  const brokers = await ensureKafka();
  const kafka = new Kafka({ clientId: 'veroai-bench', brokers, logLevel: logLevel.NOTHING });
  const input = options.input ?? uniqueName('bench-session-count-in');
  if (options.input === undefined) await createTopic(brokers, input, options.partitions);
  log(`${options.input === undefined ? 'writing' : 'replaying (not writing)'} the workload: ${input}`);
  const stats = await generate(kafka, input, options, options.input === undefined);
  log(
    `keys ${stats.keySpread.distinct} (records per key min ${stats.keySpread.min}, max ${stats.keySpread.max}, stddev ${stats.keySpread.stddev}), partitions ${stats.partitionRecords.join('/')}, out of order ${stats.outOfOrderFraction}, expected final windows ${stats.expectedWindows}, expected late ${stats.expectedLate}, peak open windows ${stats.peakOpenWindows}`,
  );
  const admin = kafka.admin();
  await admin.connect();
  const ends = (await admin.fetchTopicOffsets(input)).map((o) => ({
    partition: o.partition,
    end: Number(o.high),
  }));
  const total = ends.reduce((s, e) => s + e.end, 0);
  if (total !== options.records)
    throw new Error(`input ${input} holds ${total} records, not ${options.records}: use a fresh topic`);

  log('raw-client limit: plain kafkajs consumer over the same input');
  const rawSeconds = await rawConsume(kafka, input, options.records);

  const output = benchName('bench-session-count-out');
  await createTopic(brokers, output, options.partitions);
  const applicationId = benchName('bench-session-count');
  const job: SessionCountJob = {
    brokers,
    input,
    output,
    applicationId,
    guarantee: options.guarantee,
    gapMs: GAP_MS,
    graceMs: options.graceMs,
    commitIntervalMs: options.commitIntervalMs,
    ...(options.allocProf === undefined ? {} : { allocationProfile: options.allocProf }),
  };
  log(`${options.kafkaStreams ? 'Kafka Streams' : 'engine'} (${options.guarantee}), in a process of its own`);
  const engine = options.kafkaStreams
    ? await (await import('./kafka-streams-child.js')).kafkaStreamsInChild(job, options)
    : engineInChild(job, options);

  const { pid, at } = await Promise.race([engine.started, engine.failed]);
  let firstCommitS: number | undefined;
  let zeroLagS: number | undefined;
  let rssMb = 0;
  let cpuS: number | undefined;
  let lastLog = 0;
  let failure: string | undefined;
  const deadline = at + options.timeoutS * 1000;
  engine.failed.catch((error: Error) => {
    failure = error.message;
  });
  while (failure === undefined) {
    const [committed] = await admin.fetchOffsets({ groupId: applicationId, topics: [input] });
    const now = Date.now();
    rssMb = Math.max(rssMb, (await peakRssMb(pid)) ?? 0);
    cpuS = (await cpuSeconds(pid)) ?? cpuS;
    const offsets = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const done = ends.reduce((s, e) => s + Math.max(0, offsets.get(e.partition) ?? 0), 0);
    if (firstCommitS === undefined && done > 0) firstCommitS = (now - at) / 1000;
    if (ends.every((e) => (offsets.get(e.partition) ?? -1) >= e.end)) {
      zeroLagS = (now - at) / 1000;
      break;
    }
    if (now - lastLog >= 10_000) {
      lastLog = now;
      log(`${((now - at) / 1000).toFixed(0)} s: ${done} committed, peak RSS ${rssMb} MB`);
    }
    if (now > deadline) {
      failure = `not at zero lag after ${options.timeoutS} s (${done} of ${total} committed)`;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let result: SessionCountResult | undefined;
  if (failure === undefined) {
    rssMb = Math.max(rssMb, (await peakRssMb(pid)) ?? 0);
    result = await Promise.race([engine.stop(), engine.failed]).catch((error: Error) => {
      failure = `stopping: ${error.message}`;
      return undefined;
    });
  } else {
    await engine.stop().catch(() => undefined);
  }
  await admin.disconnect();

  let outputRecords: number | undefined;
  let outputWindows: number | undefined;
  if (failure === undefined) {
    const transport = new KafkaTransport({ brokers, clientId: 'veroai-bench' });
    const windows = new Set<string>();
    outputRecords = 0;
    const from = new Map(Array.from({ length: options.partitions }, (_, p) => [p, 0]));
    for await (const batch of transport.readPartitions(output, from, {
      readCommitted: options.guarantee === 'exactly_once',
    })) {
      outputRecords += batch.length;
      for (const r of batch) windows.add(r.key?.toString('latin1') ?? '');
    }
    outputWindows = windows.size;
    await transport.close();
  }

  const rawRps = Math.round(options.records / rawSeconds);
  const rps = zeroLagS === undefined ? undefined : Math.round(options.records / zeroLagS);
  return {
    bench: 'session-count',
    engine: options.kafkaStreams ? 'kafka-streams' : 'veroai',
    guarantee: options.guarantee,
    completed: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    records: options.records,
    keys: options.keys,
    partitions: options.partitions,
    seed: options.seed,
    span_minutes: options.spanMinutes,
    out_of_order: options.outOfOrder,
    grace_ms: options.graceMs,
    commit_interval_ms: options.commitIntervalMs,
    heap_limit_mb: options.heapMb > 0 ? options.heapMb : null,
    ...(options.nodeOptions === undefined ? {} : { node_options: options.nodeOptions }),
    input_bytes: stats.bytes,
    key_spread: stats.keySpread,
    partition_records: stats.partitionRecords,
    out_of_order_fraction: stats.outOfOrderFraction,
    rps: rps ?? null,
    zero_lag_s: zeroLagS === undefined ? null : Number(zeroLagS.toFixed(2)),
    first_commit_s: firstCommitS === undefined ? null : Number(firstCommitS.toFixed(2)),
    rss_mb: rssMb,
    cpu_s: cpuS === undefined ? null : Number(cpuS.toFixed(1)),
    raw_rps: rawRps,
    ratio: rps === undefined ? null : Number((rps / rawRps).toFixed(3)),
    peak_open_windows: stats.peakOpenWindows,
    expected_windows: stats.expectedWindows,
    output_windows: outputWindows ?? null,
    output_records: outputRecords ?? null,
    expected_late: stats.expectedLate,
    late: result?.late ?? null,
    produced: result?.produced ?? null,
    input: input,
  };
}

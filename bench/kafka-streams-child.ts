/**
 * The session-count bench's topology on Kafka Streams 3.9.1
 * (bench/kafka-streams, a Maven project built here on first use), in a JVM of
 * its own: the same job, the same measurements as the engine's child. The JVM
 * prints JSON lines on stdout (starting, failed, stopped with its result) and
 * stops cleanly on SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Engine, SessionCountOptions } from './session-count.js';
import type { SessionCountJob, SessionCountResult } from './session-count-child.js';
import { log } from './stateless.js';

const project = fileURLToPath(new URL('./kafka-streams/', import.meta.url));
const source = join(project, 'src/main/java/ai/vero/bench/SessionCount.java');
const compiled = join(project, 'target/classes/ai/vero/bench/SessionCount.class');

/** Builds the Maven project unless its class is newer than its source. */
async function build(): Promise<void> {
  const built = await stat(compiled).catch(() => undefined);
  if (built !== undefined && built.mtimeMs >= (await stat(source)).mtimeMs) return;
  log('building bench/kafka-streams (mvn package; the first build fetches Kafka Streams from Maven Central)');
  await promisify(execFile)(
    'mvn',
    [
      '-q',
      '-B',
      'package',
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      '-DoutputDirectory=target/libs',
    ],
    { cwd: project, maxBuffer: 16 * 1024 * 1024 },
  );
}

type Line =
  | { kind: 'starting'; pid: number; at: number }
  | { kind: 'failed'; message: string }
  | { kind: 'stopped'; result: { late: number; produced: Record<string, number> } };

export async function kafkaStreamsInChild(
  job: SessionCountJob,
  options: SessionCountOptions,
): Promise<Engine> {
  await build();
  const stateDir = await mkdtemp(join(tmpdir(), 'veroai-bench-kafka-streams-'));
  const jvm = [
    ...(options.heapMb > 0 ? [`-Xmx${options.heapMb}m`] : []),
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-cp',
    `${join(project, 'target/classes')}:${join(project, 'target/libs/*')}`,
    'ai.vero.bench.SessionCount',
    job.brokers.join(','),
    job.input,
    job.output,
    job.applicationId,
    job.guarantee,
    String(job.gapMs),
    String(job.graceMs),
    stateDir,
    String(job.commitIntervalMs),
  ];
  const child = spawn('java', jvm, { stdio: ['ignore', 'pipe', 'inherit'] });
  let onStarted!: (s: { pid: number; at: number }) => void;
  const started = new Promise<{ pid: number; at: number }>((resolve) => {
    onStarted = resolve;
  });
  let onStopped!: (r: SessionCountResult) => void;
  const stopped = new Promise<SessionCountResult>((resolve) => {
    onStopped = resolve;
  });
  let failure: string | undefined;
  let stopRequested = false;
  let result: SessionCountResult | undefined;
  let fail!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => undefined);
  createInterface({ input: child.stdout }).on('line', (text) => {
    if (!text.startsWith('{')) return;
    const line = JSON.parse(text) as Line;
    if (line.kind === 'starting') onStarted({ pid: line.pid, at: line.at });
    else if (line.kind === 'failed') {
      failure = line.message;
      fail(new Error(line.message));
    } else result = { late: line.result.late, produced: line.result.produced };
  });
  // 'close' comes after the last line of stdout; a JVM stopped by SIGTERM exits with 143
  child.once('close', (code, signal) => {
    void rm(stateDir, { recursive: true, force: true });
    if (stopRequested && result !== undefined) onStopped(result);
    else fail(new Error(failure ?? `the Kafka Streams JVM exited (${code ?? signal})`));
  });
  return {
    started,
    failed,
    stop: async () => {
      stopRequested = true;
      child.kill('SIGTERM');
      return Promise.race([stopped, failed]);
    },
  };
}

/**
 * An open-loop load generator: starts one request every 1/rate seconds,
 * whether or not earlier ones have answered (so a slow server shows up as
 * latency, not as a lower request rate), and measures each request from its
 * start to its answer. Runs as a child process (the job comes over IPC), so
 * the server under test does not share its event loop with the load.
 */
import { Pool } from 'undici';
import { connectRedis } from '../sinks/index.js';
import { serveJob } from './child-process.js';

export interface PacedLoadJob {
  readonly kind: 'http' | 'redis';
  /** http: base URL of the API; redis: REDIS_URL. */
  readonly target: string;
  /** http: request paths; redis: hash keys. Requests cycle through them. */
  readonly items: readonly string[];
  readonly headers?: Record<string, string>;
  readonly ratePerSecond: number;
  readonly durationMs: number;
}

export interface PacedLoadResult {
  readonly requests: number;
  readonly errors: number;
  /** Latencies in ms, sorted. */
  readonly latenciesMs: number[];
  readonly achievedRatePerSecond: number;
}

async function run(job: PacedLoadJob): Promise<PacedLoadResult> {
  // undici: Node's own HTTP client costs more per request than the server under test (its tail set the figures)
  const pool = job.kind === 'http' ? new Pool(job.target, { connections: 64, pipelining: 1 }) : undefined;
  const redis = job.kind === 'redis' ? await connectRedis(job.target) : undefined;
  const send =
    job.kind === 'http'
      ? async (item: string) => {
          const { statusCode, body } = await pool!.request({
            method: 'GET',
            path: item,
            headers: job.headers ?? {},
          });
          await body.dump();
          if (statusCode !== 200) throw new Error(`HTTP ${statusCode}`);
        }
      : async (item: string) => {
          const hash = await redis!.hgetall(item);
          if (Object.keys(hash).length === 0) throw new Error(`no hash at ${item}`);
        };
  // warm the connections and the JIT, so the figures are the steady state's
  for (let i = 0; i < 2_000; i++) await send(job.items[i % job.items.length]!).catch(() => undefined);
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round((job.ratePerSecond * job.durationMs) / 1000);
  const intervalMs = 1000 / job.ratePerSecond;
  const started = performance.now();
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    inFlight.push(
      send(job.items[i % job.items.length]!).then(
        () => {
          latencies.push(performance.now() - t0);
        },
        () => {
          errors += 1;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsed = performance.now() - started;
  await pool?.close();
  await redis?.quit();
  return {
    requests: total,
    errors,
    latenciesMs: latencies.sort((a, b) => a - b),
    achievedRatePerSecond: Math.round((total * 1000) / elapsed),
  };
}

serveJob(run);

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The path of a `prometheus` binary, installed from Debian's package by the
 * project's script (deploy/prometheus/install.sh) when none is on PATH.
 */
export function ensurePrometheus(): string {
  try {
    return execFileSync('bash', [join(root, 'deploy', 'prometheus', 'install.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 300_000,
    }).trim();
  } catch (error) {
    throw new Error(
      `Prometheus is not installed and deploy/prometheus/install.sh could not install it (${(error as Error).message}); install Prometheus 2.x and put it on PATH`,
    );
  }
}

/** A sample of one series, as /api/v1/query returns it. */
export interface PromSeries {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface RunningPrometheus {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Instant query at the current time; rejects with Prometheus' own message on a bad expression. */
  query(expr: string): Promise<PromSeries[]>;
  /** Kills the process and deletes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts a throw-away Prometheus on a free loopback port that scrapes
 * `targets` (host:port, path /metrics) under job `job`, with its own
 * temporary config and data directory. Resolves once it answers /-/ready.
 */
export async function startPrometheus(options: {
  readonly binary: string;
  readonly targets: readonly string[];
  readonly job: string;
  readonly scrapeIntervalSeconds: number;
}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'veroai-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${options.scrapeIntervalSeconds}s`,
      `  scrape_timeout: ${options.scrapeIntervalSeconds}s`,
      'scrape_configs:',
      `  - job_name: ${JSON.stringify(options.job)}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(options.targets)}`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    options.binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killed);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`);
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    stop,
    async query(expr: string): Promise<PromSeries[]> {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: PromSeries[] };
      };
      if (body.status !== 'success') throw new Error(body.error ?? `HTTP ${response.status}`);
      return body.data?.resultType === 'vector' ? (body.data.result ?? []) : [];
    },
  };
}

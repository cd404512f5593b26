import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'veroai.js');

function veroai(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('the veroai command', () => {
  it('describe prints the sub-topologies, stores and internal topics of the default topology', () => {
    const out = veroai(['describe']);
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/Sub-topology: 0[\s\S]*Source: raw-events \(topics: \[raw_events\]\)/);
    expect(out.stdout).toMatch(/Sub-topology: 1[\s\S]*Store: events-per-tenant/);
    expect(out.stdout).toMatch(/Internal topics:\n {3}veroai-events-by-tenant-repartition \(repartition\)/);
    expect(veroai(['describe', '--mermaid']).stdout).toMatch(/^flowchart LR/);
  });

  it('every command has --help', () => {
    for (const command of ['describe', 'run', 'produce', 'topics']) {
      const out = veroai([command, '--help']);
      expect(out.status, command).toBe(0);
      expect(out.stdout).toContain(`Usage: veroai ${command}`);
    }
  });

  it('a bad configuration stops with the variable, the expected form and the value', () => {
    const out = veroai(['run'], { TRANSPORT: 'kafka', KAFKA_BROKERS: 'nope', API_PORT: 'eighty' });
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/KAFKA_BROKERS: expected a comma-separated list of host:port.*got 'nope'/);
    expect(out.stderr).toMatch(/API_PORT: .*got 'eighty'/);
  });

  it('run serves health and metrics while sample traffic flows, and stops cleanly on SIGTERM', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = spawn(process.execPath, [bin, 'run'], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'info', API_PORT: String(port), SAMPLE_EVENTS_PER_SECOND: '500' },
    });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const deadline = Date.now() + 30_000;
      let counted = 0;
      while (Date.now() < deadline && counted === 0) {
        await new Promise((r) => setTimeout(r, 500));
        const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        const m = /veroai_records_produced_total\{[^}]*topic="tenant_event_counts"\} (\d+)/.exec(metrics);
        counted = m === null ? 0 : Number(m[1]);
      }
      expect(counted).toBeGreaterThan(0);
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(200);
      const missing = await fetch(`http://127.0.0.1:${port}/v1/nothing`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: string }).error).toMatch(/no route GET \/v1\/nothing/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/"msg":"stopped"/);
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
    // the events re-keyed by user stay in the raw events' tasks (a repartition in place): one sub-topology
    expect(out.stdout).toMatch(
      /Sub-topology: 0\n\s+Source: raw-events \(topics: \[raw_events\]\)[\s\S]*Sink: events-by-user-repartition-sink \(topic: veroai-events-by-user-repartition, in place: events-by-user-repartition-source\)[\s\S]*Store: user-sessions \(type: session, changelog: veroai-user-sessions-changelog\)[\s\S]*Sub-topology: 1/,
    );
    expect(out.stdout).toMatch(/Sink: user-sessions-out \(topic: user_sessions\)/);
    expect(out.stdout).toMatch(/Internal topics:\n[\s\S]*veroai-events-by-user-repartition \(repartition\)/);
    expect(veroai(['describe', '--mermaid']).stdout).toMatch(/^flowchart LR/);
  });

  it('every command has --help', () => {
    // the commands the top-level help lists, so that a new command is covered without editing this test
    const top = veroai(['--help']).stdout;
    const commands = [...top.slice(top.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)/gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');
    expect(commands).toEqual(
      expect.arrayContaining(['demo', 'describe', 'run', 'produce', 'topics', 'simulate', 'score-series']),
    );
    for (const command of commands) {
      const out = veroai([command, '--help']);
      expect(out.status, command).toBe(0);
      expect(out.stdout).toContain(`Usage: veroai ${command}`);
    }
  }, 120_000);

  it('a bad configuration stops with the variable, the expected form and the value', () => {
    const out = veroai(['run'], { TRANSPORT: 'kafka', KAFKA_BROKERS: 'nope', API_PORT: 'eighty' });
    // exit code 2: a configuration error (cli/lifecycle.ts)
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/KAFKA_BROKERS: expected a comma-separated list of host:port.*got 'nope'/);
    expect(out.stderr).toMatch(/API_PORT: .*got 'eighty'/);
  });

  it('run serves health and metrics while sample traffic flows, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'run'], {
      cwd: root,
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        // port 0: the job binds a port nobody holds and says which (a port picked here could be taken first)
        API_PORT: '0',
        SAMPLE_EVENTS_PER_SECOND: '500',
        STATE_DIR: mkdtempSync(join(tmpdir(), 'veroai-run-')),
      },
    });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const deadline = Date.now() + 30_000;
      const address = /API and \/metrics on http:\/\/127\.0\.0\.1:(\d+)/;
      while (Date.now() < deadline && !address.test(stderr)) await new Promise((r) => setTimeout(r, 100));
      const port = Number(address.exec(stderr)?.[1]);
      expect(port, `no address on stderr: ${stderr.slice(-2_000)}`).toBeGreaterThan(0);
      let counted = 0;
      while (Date.now() < deadline && counted === 0) {
        await new Promise((r) => setTimeout(r, 500));
        const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        const m = /veroai_records_produced_total\{[^}]*topic="feature_updates"\} (\d+)/.exec(metrics);
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
  }, 120_000);

  it('demo runs the whole pipeline with its traffic, prints the API and keys, and serves features to a tenant key', async () => {
    const child = spawn(process.execPath, [bin, 'demo', '--duration', '100'], {
      cwd: root,
      env: {
        ...process.env,
        API_PORT: '0',
        SAMPLE_EVENTS_PER_SECOND: '400',
        APPLICATION_ID: `demo-test-${process.pid}-${Date.now().toString(36)}`,
        STATE_DIR: mkdtempSync(join(tmpdir(), 'veroai-demo-')),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        exitCode = code;
        resolve(code);
      }),
    );
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && exitCode === undefined && !/features written [1-9]/.test(stdout))
        await new Promise((r) => setTimeout(r, 250));
      // a demo that stopped early or said nothing: its stderr tells why
      expect(
        stdout,
        `demo ${exitCode === undefined ? 'running' : `exited ${exitCode}`}; stderr: ${stderr.slice(-2_000)}`,
      ).toMatch(/query API http:\/\/127\.0\.0\.1:\d+ /);
      const port = Number(/query API http:\/\/127\.0\.0\.1:(\d+) /.exec(stdout)?.[1]);
      expect(port).toBeGreaterThan(0);
      expect(stdout).toMatch(/events\/s +\d+ +events in \d+/);
      const acmeKey = /tenant acme: (\S+)/.exec(stdout)?.[1];
      expect(acmeKey).toBeDefined();
      const auth = { authorization: `Bearer ${acmeKey}` };
      const own = await fetch(`http://127.0.0.1:${port}/v1/features/tenant_usage/acme`, { headers: auth });
      expect(own.status).toBe(200);
      const body = (await own.json()) as { values: Record<string, number>; event_time: number };
      expect(body.values.events_1h).toBeGreaterThan(0);
      // the acme key never sees another tenant's features
      const other = await fetch(`http://127.0.0.1:${port}/v1/features/tenant_usage/globex`, {
        headers: auth,
      });
      expect(other.status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});

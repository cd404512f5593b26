import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'veroai.js');

function scoreSeries(input: string, args: string[] = []) {
  return spawnSync(process.execPath, [bin, 'score-series', ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** Two days of 5-minute points, the timestamp forms taking turns, and a spike at the end. */
function csv(): { text: string; timestamps: string[] } {
  const start = Date.UTC(2026, 0, 5);
  const timestamps: string[] = [];
  const rows = ['timestamp,value'];
  for (let i = 0; i < 576; i++) {
    const time = start + i * 300_000;
    const iso = new Date(time).toISOString();
    const timestamp =
      i % 3 === 0 ? iso : i % 3 === 1 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : String(time);
    const value = i === 575 ? 500 : 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + ((i * 7) % 5) - 2;
    timestamps.push(timestamp);
    rows.push(`${timestamp},${value}`);
  }
  return { text: `${rows.join('\n')}\n`, timestamps };
}

describe('veroai score-series', () => {
  it('writes one row per input row, timestamps as given, in order, with a score in [0, 1]', () => {
    const { text, timestamps } = csv();
    const out = scoreSeries(text, [
      '--seasonality',
      'daily',
      '--alpha',
      '0.1',
      '--warmup',
      '5',
      '--seed',
      '3',
    ]);
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const lines = out.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score');
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => r[0])).toEqual(timestamps);
    const scores = rows.map((r) => Number(r[2]));
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores.at(-1)).toBeGreaterThan(0.99);
    expect(scores.slice(288, -1).every((s) => s < 0.5)).toBe(true);
    // the same input and options give the same output
    expect(scoreSeries(text, ['--seed', '3']).stdout).toBe(out.stdout);
  });

  it('a bad row stops with exit code 2 and one line naming the line and what was wrong', () => {
    const out = scoreSeries(
      'timestamp,value\n2026-01-05T00:00:00Z,1\n2026-01-05 00:05:00,abc\n1767571800000,3\n',
    );
    expect(out.status).toBe(2);
    expect(out.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/line 3: value 'abc' is not a number$/),
    ]);
    expect(out.stdout).toBe('timestamp,value,anomaly_score\n2026-01-05T00:00:00Z,1,0.000000\n');

    const badTime = scoreSeries('timestamp,value\nyesterday,1\n');
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toMatch(/^veroai: line 2: timestamp 'yesterday' is not ISO 8601/);
    expect(badTime.stderr).not.toMatch(/\n\s+at /);

    const badHeader = scoreSeries('time,value\n1,2\n');
    expect(badHeader.status).toBe(2);
    expect(badHeader.stderr).toMatch(/line 1: expected the header 'timestamp,value'/);
  });
});

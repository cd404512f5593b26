/**
 * deploy/kafka/kafka.sh fetches the broker's jars from Maven Central on first
 * use. The shared broker and a test's private broker (test/support/private-kafka.ts)
 * may start at the same moment on a clean clone; both fetch into one cache.
 * CI once failed that way: two Maven copies into one folder, one of them
 * "Failed to copy full contents". Concurrent fetches must give one complete
 * set of jars and fail none of the callers.
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'kafka', 'kafka.sh');
const cacheDir = mkdtempSync(join(tmpdir(), 'veroai-kafka-cache-'));

afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** A jar is a zip: complete only if its end-of-central-directory record is there, near its end. */
function isCompleteZip(file: string): boolean {
  const size = statSync(file).size;
  const tail = Buffer.alloc(Math.min(size, 65_557));
  const fd = openSync(file, 'r');
  try {
    readSync(fd, tail, 0, tail.length, size - tail.length);
  } finally {
    closeSync(fd);
  }
  return tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) >= 0;
}

describe('deploy/kafka/kafka.sh fetch', () => {
  it('three callers at once on an empty cache: one fetch, every caller succeeds, every jar complete', async () => {
    const fetchOnce = () =>
      promisify(execFile)('bash', [script, 'fetch'], {
        env: { ...process.env, KAFKA_CACHE_DIR: cacheDir },
        timeout: 300_000,
        maxBuffer: 4 * 1024 * 1024,
      });
    const runs = await Promise.allSettled([fetchOnce(), fetchOnce(), fetchOnce()]);
    const failures = runs.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failures).toEqual([]);
    const stderr = runs.map((r) => (r.status === 'fulfilled' ? r.value.stderr : '')).join('');
    expect(stderr.match(/kafka: fetching/g)).toHaveLength(1);

    expect(readdirSync(cacheDir).sort()).toEqual(['fetch.lock', 'libs']);
    const jars = readdirSync(join(cacheDir, 'libs'));
    expect(jars.some((j) => /^kafka_2\.13-.*\.jar$/.test(j))).toBe(true);
    expect(jars.filter((j) => !isCompleteZip(join(cacheDir, 'libs', j)))).toEqual([]);
  });
});

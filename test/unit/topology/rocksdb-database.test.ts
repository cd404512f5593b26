import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RocksDbDatabase } from '../../../topology/state/rocksdb-database.js';

const b = (s: string) => Buffer.from(s);

/** A new database in a folder of its own for each test, closed and deleted after it. */
let root: string;
let db: RocksDbDatabase;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'veroai-rocksdb-database-'));
  db = await RocksDbDatabase.open(join(root, 'db'));
});
afterEach(async () => {
  await db.close();
  await rm(root, { recursive: true, force: true });
});

describe('RocksDbDatabase.write', () => {
  it('applies puts and deletes in their order, a later one of a key winning', async () => {
    await db.write([{ type: 'put', key: b('kept'), value: b('old') }]);
    await db.write([
      { type: 'del', key: b('kept') },
      { type: 'put', key: b('kept'), value: b('new') },
      { type: 'put', key: b('gone'), value: b('x') },
      { type: 'del', key: b('gone') },
      { type: 'put', key: b('twice'), value: b('1') },
      { type: 'put', key: b('twice'), value: b('2') },
    ]);
    const [kept, gone, twice] = await db.getMany([b('kept'), b('gone'), b('twice')]);
    expect(kept?.toString()).toBe('new');
    expect(gone).toBeUndefined();
    expect(twice?.toString()).toBe('2');
  });

  it('writes many operations of one batch, values byte for byte', async () => {
    const operations = Array.from({ length: 10_000 }, (_, i) => ({
      type: 'put' as const,
      key: b(`k${String(i).padStart(5, '0')}`),
      value: Buffer.from([i & 0xff, (i >> 8) & 0xff, 0, 0xff]),
    }));
    await db.write(operations);
    const entries: Array<[Buffer, Buffer]> = [];
    for await (const entry of db.scan()) entries.push(entry);
    expect(entries.map(([k]) => k.toString())).toEqual(operations.map((o) => o.key.toString()));
    expect(entries.every(([, v], i) => v.equals(operations[i]!.value))).toBe(true);
  });

  it('writes nothing for no operations', async () => {
    await db.write([]);
    const entries: unknown[] = [];
    for await (const entry of db.scan()) entries.push(entry);
    expect(entries).toEqual([]);
  });
});

describe('RocksDbDatabase.keys', () => {
  beforeEach(async () => {
    // 2,500 keys: more than two of the iterator's native chunks (1,000 entries each)
    await db.write(
      Array.from({ length: 2_500 }, (_, i) => ({
        type: 'put' as const,
        key: b(`k${String(i).padStart(5, '0')}`),
        value: b(`v${i}`),
      })),
    );
  });

  const key = (i: number) => `k${String(i).padStart(5, '0')}`;
  const names = (keys: readonly Buffer[]) => keys.map((k) => k.toString());

  it('reads every key in order across native chunks, as scan does', async () => {
    const scanned: string[] = [];
    for await (const [k] of db.scan()) scanned.push(k.toString());
    const keys = await db.keys();
    expect(names(keys)).toEqual(scanned);
    expect(keys).toHaveLength(2_500);
    expect(names(keys).slice(998, 1_002)).toEqual([key(998), key(999), key(1_000), key(1_001)]);
  });

  it('keeps to the range and the limit', async () => {
    expect(names(await db.keys({ gte: b(key(1_200)), lt: b(key(2_300)) }))).toEqual(
      Array.from({ length: 1_100 }, (_, i) => key(1_200 + i)),
    );
    expect(names(await db.keys({ gte: b(key(10)), lte: b(key(12)) }))).toEqual([key(10), key(11), key(12)]);
    expect(names(await db.keys({ gte: b(key(5)), limit: 1_500 }))).toEqual(
      Array.from({ length: 1_500 }, (_, i) => key(5 + i)),
    );
    expect(await db.keys({ gte: b('z') })).toEqual([]);
  });
});

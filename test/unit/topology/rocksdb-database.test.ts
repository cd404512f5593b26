import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RocksDbDatabase } from '../../../topology/state/rocksdb-database.js';

const b = (s: string) => Buffer.from(s);

describe('RocksDbDatabase.write', () => {
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

/**
 * One contract for both store backends: the in-memory stores and the RocksDB
 * stores must answer every read alike (buffered writes included), and the
 * RocksDB ones keep their data across close and reopen.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  changelogTopic,
  MemoryTransport,
  type OutgoingRecord,
  type ProcessingGuarantee,
  type Serde,
  Serdes,
  SessionWindows,
  StreamsApplication,
  TimeWindows,
  TopologyBuilder,
  type Windowed,
  windowedSerde,
} from '../../../topology/index.js';
import type { StoreSpec } from '../../../topology/plan/graph.js';
import { ChangeLoggingKeyValueStore } from '../../../topology/state/change-logging-store.js';
import { CheckpointFile } from '../../../topology/state/checkpoint-file.js';
import { MemoryKeyValueStore } from '../../../topology/state/memory-key-value-store.js';
import { RocksDbKeyValueStore } from '../../../topology/state/rocksdb-key-value-store.js';
import { RocksDbSessionStore } from '../../../topology/state/rocksdb-session-store.js';
import { MemorySessionStore, type SessionStore } from '../../../topology/state/session-store.js';
import {
  type KeyValueStore,
  NOT_IN_MEMORY,
  type ReadAheadStore,
  readStored,
  type StoreType,
} from '../../../topology/state/store.js';
import { createTaskStore } from '../../../topology/state/task-stores.js';
import { TestDriver } from '../../../topology/testing/index.js';

const TOPIC = 'contract-store-changelog';
const serdes = { key: Serdes.string as never, value: Serdes.json<{ n: number }>(), topic: TOPIC };
const keyBytes = (k: string) => Buffer.from(k, 'utf8');

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'veroai-state-stores-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
const freshDirectory = () => join(root, `store-${counter++}`);

interface Backend<S> {
  /** A new, open store. */
  create(): Promise<S>;
  /** Closes the store and opens it again on the same files (a fresh instance). */
  reopen(store: S): Promise<S>;
  readonly persistent: boolean;
}

type KV = KeyValueStore<string, { n: number }>;
type Sessions = SessionStore<string, { n: number }>;

/** The memory and RocksDB variants of one store interface, for the contract tests below. */
function backendsOf<S extends { close(): Promise<void> }>(
  memory: () => S,
  rocksdb: (directory: string) => S & { open(): Promise<void>; readonly directory: string },
): Array<[StoreType, Backend<S>]> {
  const openRocksDb = async (directory: string) => {
    const store = rocksdb(directory);
    await store.open();
    return store;
  };
  return [
    [
      'memory',
      {
        persistent: false,
        create: async () => memory(),
        reopen: async (store) => {
          await store.close();
          return store;
        },
      },
    ],
    [
      'rocksdb',
      {
        persistent: true,
        create: () => openRocksDb(freshDirectory()),
        reopen: async (store) => {
          await store.close();
          return openRocksDb((store as unknown as { directory: string }).directory);
        },
      },
    ],
  ];
}

const kvBackends = backendsOf<KV>(
  () => new MemoryKeyValueStore<string, { n: number }>('kv', keyBytes),
  (directory) => new RocksDbKeyValueStore<string, { n: number }>('kv', directory, serdes),
);

const sessionBackends = backendsOf<Sessions>(
  () => new MemorySessionStore<string, { n: number }>('sessions', keyBytes),
  (directory) => new RocksDbSessionStore<string, { n: number }>('sessions', directory, serdes),
);

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const session = (key: string, start: number, end: number): Windowed<string> => ({
  key,
  window: { start, end },
});

describe.each(kvBackends)('key-value store contract: %s', (_type, backend) => {
  it('get sees a put before and after flush; delete removes', async () => {
    const store = await backend.create();
    expect(await store.get('a')).toBeUndefined();
    store.put('a', { n: 1 });
    expect(await store.get('a')).toEqual({ n: 1 });
    await store.flush();
    expect(await store.get('a')).toEqual({ n: 1 });
    store.put('a', { n: 2 });
    expect(await store.get('a')).toEqual({ n: 2 });
    store.delete('a');
    expect(await store.get('a')).toBeUndefined();
    await store.flush();
    expect(await store.get('a')).toBeUndefined();
    await store.close();
  });

  it('readStored answers without a promise what is in memory, and what get answers in every case', async () => {
    const store = await backend.create();
    store.put('a', { n: 1 });
    store.put('gone', { n: 0 });
    store.delete('gone');
    // unflushed writes (and deletes) are in memory for both backends
    expect(readStored(store, 'a', (v) => v)).toEqual({ n: 1 });
    expect(readStored(store, 'gone', (v) => v ?? 'absent')).toBe('absent');
    await store.flush();
    const flushed = readStored(store, 'a', (v) => v);
    const missing = readStored(store, 'never', (v) => v ?? 'absent');
    // after a flush a RocksDB store must go to disk: a promise, with the same answer as get
    expect(flushed instanceof Promise).toBe(backend.persistent);
    expect(missing instanceof Promise).toBe(backend.persistent);
    expect(await flushed).toEqual(await store.get('a'));
    expect(await missing).toBe('absent');
    await store.close();
  });

  it('range and all run in byte order of the serialised keys and include unflushed writes', async () => {
    const store = await backend.create();
    // 'é' is two UTF-8 bytes (0xc3 0xa9): it sorts after 'z' as bytes, though before it in some locales
    for (const k of ['b', 'é', 'a', 'z', 'ab', 'c']) store.put(k, { n: k.length });
    await store.flush();
    store.put('bb', { n: 9 });
    store.delete('c');
    expect((await collect(store.all())).map(([k]) => k)).toEqual(['a', 'ab', 'b', 'bb', 'z', 'é']);
    expect(await collect(store.range('ab', 'bb'))).toEqual([
      ['ab', { n: 2 }],
      ['b', { n: 1 }],
      ['bb', { n: 9 }],
    ]);
    expect(await collect(store.range('x', 'y'))).toEqual([]);
    await store.close();
  });

  it('counts its entries approximately', async () => {
    const store = await backend.create();
    for (let i = 0; i < 50; i++) store.put(`k${i}`, { n: i });
    await store.flush();
    expect(store.approximateEntries()).toBeGreaterThan(0);
    await store.close();
  });

  it(`after close and reopen the data is ${backend.persistent ? 'still there' : 'gone (in memory)'}`, async () => {
    let store = await backend.create();
    store.put('kept', { n: 7 });
    store.put('dropped', { n: 8 });
    await store.flush();
    store.delete('dropped');
    // close flushes what is still buffered
    store = await backend.reopen(store);
    expect(await store.get('kept')).toEqual(backend.persistent ? { n: 7 } : undefined);
    expect(await store.get('dropped')).toBeUndefined();
    expect((await collect(store.all())).length).toBe(backend.persistent ? 1 : 0);
    await store.close();
  });
});

/** Three sessions of u1, one of them written after a flush; THREE_SESSIONS is what [180, 1000] finds. */
async function withThreeSessions(store: Sessions): Promise<Sessions> {
  store.put(session('u1', 100, 200), { n: 1 });
  store.put(session('u1', 1_000, 1_500), { n: 2 });
  await store.flush();
  store.put(session('u1', 300, 400), { n: 3 });
  return store;
}
const THREE_SESSIONS = [
  [session('u1', 100, 200), { n: 1 }],
  [session('u1', 300, 400), { n: 3 }],
  [session('u1', 1_000, 1_500), { n: 2 }],
];

describe.each(sessionBackends)('session store contract: %s', (_type, backend) => {
  it('findSessionsNow answers as findSessions without a promise once the key is in memory, else NOT_IN_MEMORY', async () => {
    const store = await withThreeSessions(await backend.create());
    const now = () => store.findSessionsNow!('u1', 180, 1_000);
    // a RocksDB store has not read the key since its flush: only a memory store answers at once
    expect(now() === NOT_IN_MEMORY).toBe(backend.persistent);
    if (backend.persistent) await (store as unknown as ReadAheadStore).prefetch([keyBytes('u1')]);
    expect(now()).toEqual(await store.findSessions('u1', 180, 1_000));
    expect(now()).toEqual(THREE_SESSIONS);
    store.remove(session('u1', 300, 400));
    expect(store.findSessionsNow!('u1', 201, 999)).toEqual([]);
    await store.close();
  });

  it('findSessions returns the sessions of a key overlapping [earliestEnd, latestStart], by start', async () => {
    const store = await withThreeSessions(await backend.create());
    store.put(session('u2', 150, 160), { n: 4 });
    expect(await store.findSessions('u1', 180, 1_000)).toEqual(THREE_SESSIONS);
    expect((await store.findSessions('u1', 201, 999)).map(([s]) => s.window)).toEqual([
      { start: 300, end: 400 },
    ]);
    expect(await store.findSessions('u1', 1_501, 5_000)).toEqual([]);
    expect(await store.findSessions('u1', 0, 99)).toEqual([]);
    await store.close();
  });

  it('put replaces a session with the same bounds; remove deletes it, flushed or not', async () => {
    const store = await backend.create();
    store.put(session('u', 10, 20), { n: 1 });
    await store.flush();
    store.put(session('u', 10, 20), { n: 2 });
    expect(await store.fetch('u')).toEqual([[session('u', 10, 20), { n: 2 }]]);
    store.put(session('u', 30, 40), { n: 3 });
    store.remove(session('u', 10, 20));
    expect(await store.fetch('u')).toEqual([[session('u', 30, 40), { n: 3 }]]);
    await store.flush();
    store.remove(session('u', 30, 40));
    expect(await store.fetch('u')).toEqual([]);
    await store.flush();
    expect(await store.fetch('u')).toEqual([]);
    expect(await collect(store.all())).toEqual([]);
    await store.close();
  });

  it('a key that is a prefix of another never sees the other key’s sessions', async () => {
    const store = await backend.create();
    store.put(session('ab', 5, 6), { n: 1 });
    store.put(session('abc', 1, 2), { n: 2 });
    store.put(session('a', 7, 8), { n: 3 });
    store.put(session('', 3, 4), { n: 4 });
    await store.flush();
    store.put(session('abcd', 2, 3), { n: 5 });
    expect(await store.fetch('ab')).toEqual([[session('ab', 5, 6), { n: 1 }]]);
    expect(await store.fetch('a')).toEqual([[session('a', 7, 8), { n: 3 }]]);
    expect(await store.fetch('')).toEqual([[session('', 3, 4), { n: 4 }]]);
    expect(await store.findSessions('abc', 0, 100)).toEqual([[session('abc', 1, 2), { n: 2 }]]);
    expect(await store.findSessions('ab', 0, 100)).toEqual([[session('ab', 5, 6), { n: 1 }]]);
    await store.close();
  });

  it('all yields every session, grouped by key in key byte order, each key’s by start', async () => {
    const store = await backend.create();
    store.put(session('b', 50, 60), { n: 1 });
    store.put(session('a', 70, 80), { n: 2 });
    store.put(session('b', 10, 20), { n: 3 });
    await store.flush();
    store.put(session('a', 5, 6), { n: 4 });
    expect((await collect(store.all())).map(([s, v]) => [s.key, s.window.start, v.n])).toEqual([
      ['a', 5, 4],
      ['a', 70, 2],
      ['b', 10, 3],
      ['b', 50, 1],
    ]);
    await store.close();
  });

  it(`after close and reopen the sessions are ${backend.persistent ? 'still there' : 'gone (in memory)'}`, async () => {
    let store = await backend.create();
    store.put(session('u', 1, 2), { n: 1 });
    store.put(session('u', 9, 12), { n: 2 });
    await store.flush();
    store.remove(session('u', 1, 2));
    store = await backend.reopen(store);
    expect(await store.fetch('u')).toEqual(backend.persistent ? [[session('u', 9, 12), { n: 2 }]] : []);
    await store.close();
  });
});

describe.each(['memory', 'rocksdb'] as StoreType[])('restore from changelog bytes: %s', (storeType) => {
  const changelogKeys = windowedSerde(Serdes.string as never);
  const value = Serdes.json<{ n: number }>();
  const context = () => ({
    changelogTopic: TOPIC,
    partition: 0,
    emit: () => undefined,
    now: () => 0,
    taskDirectory: freshDirectory(),
    defaultStoreType: storeType,
  });
  const spec = (type: StoreSpec['type']): StoreSpec => ({
    name: `restored-${type}`,
    type,
    keySerde: Serdes.string as never,
    valueSerde: value as never,
    changelog: true,
  });

  it('a key-value store rebuilt from its changelog records (puts and tombstones) holds the last value per key', async () => {
    const target = createTaskStore(spec('key-value'), context());
    await target.persistent?.open();
    const kv = target.store as KeyValueStore<string, { n: number }>;
    for (const [k, v] of [
      ['a', 1],
      ['b', 2],
      ['a', 3],
    ] as const)
      target.restore(Buffer.from(k), value.serialize({ n: v }, TOPIC));
    target.restore(Buffer.from('b'), null);
    await kv.flush();
    expect(await collect(kv.all())).toEqual([['a', { n: 3 }]]);
    expect(target.persistent === undefined).toBe(storeType === 'memory');
    await kv.close();
  });

  it('a session store rebuilt from windowed changelog keys holds the sessions not retracted', async () => {
    const target = createTaskStore(spec('session'), context());
    await target.persistent?.open();
    const sessions = target.store as SessionStore<string, { n: number }>;
    const key = (k: string, start: number, end: number) =>
      changelogKeys.serialize(session(k, start, end), TOPIC);
    target.restore(key('ab', 1, 5), value.serialize({ n: 1 }, TOPIC));
    target.restore(key('abc', 2, 3), value.serialize({ n: 2 }, TOPIC));
    target.restore(key('ab', 10, 12), value.serialize({ n: 3 }, TOPIC));
    target.restore(key('ab', 1, 5), null);
    await sessions.flush();
    expect(await sessions.fetch('ab')).toEqual([[session('ab', 10, 12), { n: 3 }]]);
    expect(await sessions.fetch('abc')).toEqual([[session('abc', 2, 3), { n: 2 }]]);
    await sessions.close();
  });
});

describe('the checkpoint file', () => {
  it('round-trips offsets per changelog partition, and is empty when absent or deleted', async () => {
    const file = new CheckpointFile(freshDirectory());
    expect(await file.read()).toEqual(new Map());
    await file.write([
      { topic: 'app-counts-changelog', partition: 2, offset: 1234 },
      { topic: 'app-sessions-changelog', partition: 2, offset: 7 },
    ]);
    expect(await file.read()).toEqual(
      new Map([
        ['app-counts-changelog:2', 1234],
        ['app-sessions-changelog:2', 7],
      ]),
    );
    await file.delete();
    expect(await file.read()).toEqual(new Map());
  });

  it('a corrupt file is an error that names it and says to delete it', async () => {
    const file = new CheckpointFile(freshDirectory());
    await file.write([{ topic: 't', partition: 0, offset: 1 }]);
    await writeFile(file.path, '0\n2\nt 0 1\n');
    await expect(file.read()).rejects.toThrow(file.path);
    await expect(file.read()).rejects.toMatchObject({ hint: expect.stringContaining('delete it') });
  });
});

describe('RocksDB session store read-ahead', () => {
  it('serves reads from the read-ahead without hiding writes made before or after it, or flushed since', async () => {
    const store = new RocksDbSessionStore<string, { n: number }>('sessions', freshDirectory(), serdes);
    await store.open();
    store.put(session('u', 10, 20), { n: 1 });
    store.put(session('v', 10, 20), { n: 2 });
    await store.flush();
    store.put(session('u', 30, 40), { n: 3 });
    await store.prefetch([keyBytes('u'), keyBytes('v'), keyBytes('absent')]);
    expect(await store.fetch('u')).toEqual([
      [session('u', 10, 20), { n: 1 }],
      [session('u', 30, 40), { n: 3 }],
    ]);
    store.remove(session('u', 10, 20));
    expect(await store.findSessions('u', 0, 100)).toEqual([[session('u', 30, 40), { n: 3 }]]);
    expect(await store.findSessions('u', 0, 25)).toEqual([]);
    expect(await store.fetch('absent')).toEqual([]);
    await store.flush();
    // after the flush the read-ahead is stale: reads must see what the flush wrote
    expect(await store.fetch('u')).toEqual([[session('u', 30, 40), { n: 3 }]]);
    await store.prefetch([keyBytes('u')]);
    store.put(session('u', 50, 60), { n: 4 });
    expect((await store.fetch('u')).map(([s]) => s.window.start)).toEqual([30, 50]);
    expect(await store.fetch('v')).toEqual([[session('v', 10, 20), { n: 2 }]]);
    await store.close();
  });
});

describe('a changelogged RocksDB key-value store', () => {
  it("writes the changelog's bytes of a value, not a second serialisation; a value rewritten meanwhile is serialised afresh", async () => {
    let serialised = 0;
    const json = Serdes.json<{ n: number }>();
    const counting: Serde<{ n: number }> = {
      ...json,
      serialize: (value, topic) => {
        serialised += 1;
        return json.serialize(value, topic);
      },
    };
    const inner = new RocksDbKeyValueStore<string, { n: number }>('kv', freshDirectory(), {
      ...serdes,
      value: counting,
    });
    await inner.open();
    const logged: OutgoingRecord[] = [];
    const store = new ChangeLoggingKeyValueStore(
      inner,
      Serdes.string,
      counting,
      TOPIC,
      0,
      (r) => logged.push(r),
      () => 1,
    );
    store.put('a', { n: 1 });
    store.put('b', { n: 2 });
    await store.flush();
    // one serialisation per value, for the changelog; the store wrote the same bytes
    expect(serialised).toBe(2);
    expect(logged.map((r) => r.value?.toString())).toEqual(['{"n":1}', '{"n":2}']);
    expect(await inner.getMany(['a', 'b'])).toEqual([{ n: 1 }, { n: 2 }]);
    // the changelog's bytes arrive for a value the store no longer holds: it serialises its own
    inner.put('c', { n: 3 });
    inner.valueSerialized('c', { n: 3 }, Buffer.from('{"n":99}'));
    await inner.flush();
    expect(await inner.get('c')).toEqual({ n: 3 });
    await inner.close();
  });
});

describe('RocksDB key-value store read-ahead', () => {
  const open = async () => {
    const store = new RocksDbKeyValueStore<string, { n: number }>('kv', freshDirectory(), serdes);
    await store.open();
    return store;
  };

  it('answers the keys read ahead without I/O, present or absent, without hiding a write, until the batch ends', async () => {
    const store = await open();
    store.put('a', { n: 1 });
    store.put('b', { n: 2 });
    await store.flush();
    expect(store.readNow('a')).toBe(NOT_IN_MEMORY);
    await store.prefetch(['a', 'absent']);
    expect(store.readNow('a')).toEqual({ n: 1 });
    expect(store.readNow('absent')).toBeUndefined();
    expect(store.readNow('b')).toBe(NOT_IN_MEMORY);
    store.put('a', { n: 3 });
    store.put('absent', { n: 4 });
    expect(store.readNow('a')).toEqual({ n: 3 });
    expect(await store.getMany(['a', 'absent', 'b'])).toEqual([{ n: 3 }, { n: 4 }, { n: 2 }]);
    // a flush in the middle of the batch (a punctuator's scan): the keys it wrote are read from disk again
    await store.flush();
    expect(store.readNow('a')).toBe(NOT_IN_MEMORY);
    expect(await store.get('a')).toEqual({ n: 3 });
    expect(await store.get('absent')).toEqual({ n: 4 });
    await store.prefetch(['a', 'b']);
    expect(store.readNow('a')).toEqual({ n: 3 });
    store.delete('b');
    expect(store.readNow('b')).toBeUndefined();
    await store.flush();
    expect(await store.get('b')).toBeUndefined();
    store.endBatch();
    expect(store.readNow('a')).toBe(NOT_IN_MEMORY);
    await store.close();
  });

  it('keeps nothing of a read-ahead a flush overlapped: no value read before a write is served after it', async () => {
    const store = await open();
    for (let round = 0; round < 50; round++) {
      store.put('k', { n: round });
      await store.flush();
      // the read-ahead reads the disk while a flush writes a newer value; either may land first
      const ahead = store.prefetch(['k']);
      store.put('k', { n: round + 1_000 });
      await Promise.all([ahead, store.flush()]);
      expect(store.readNow('k')).not.toEqual({ n: round });
      expect(await store.get('k')).toEqual({ n: round + 1_000 });
      store.endBatch();
    }
    await store.close();
  });
});

describe('checkpoints of RocksDB stores (memory transport)', () => {
  const RECORDS = 12_000;

  async function run(transport: MemoryTransport, stateDir: string, guarantee: ProcessingGuarantee) {
    const builder = new TopologyBuilder();
    builder.stream('in', { key: Serdes.string, value: Serdes.string }).groupByKey().count({ name: 'counts' });
    const registry = new Registry();
    const app = new StreamsApplication(builder.build(), {
      applicationId: 'checkpoints',
      transport,
      processingGuarantee: guarantee,
      commitIntervalMs: 20,
      stateDir,
      defaultStoreType: 'rocksdb',
      logger: pino({ level: 'silent' }),
      metricsRegistry: registry,
    });
    await app.start();
    return { app, registry };
  }

  const total = async (registry: Registry, name: string) =>
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((s, v) => s + v.value, 0);

  async function settle(app: StreamsApplication, registry: Registry, consumed: number) {
    while ((await total(registry, 'veroai_records_consumed_total')) < consumed || app.busy())
      await new Promise((r) => setTimeout(r, 10));
  }

  async function withInput(count: number, from = 0) {
    const transport = new MemoryTransport();
    await transport.ensureTopics([{ name: 'in', partitions: 1 }]);
    append(transport, count, from);
    return transport;
  }

  function append(transport: MemoryTransport, count: number, from: number) {
    for (let i = from; i < from + count; i++)
      transport.log.append({
        topic: 'in',
        partition: 0,
        key: Buffer.from(`k${i}`),
        value: Buffer.from('v'),
        timestamp: i,
      });
  }

  it.each(['at_least_once', 'exactly_once'] as ProcessingGuarantee[])(
    '%s: the checkpoint holds the changelog end offset after a clean stop, and a restart replays nothing',
    async (guarantee) => {
      const stateDir = freshDirectory();
      const checkpoint = new CheckpointFile(join(stateDir, 'checkpoints', '0_0'));
      const transport = await withInput(RECORDS);
      const first = await run(transport, stateDir, guarantee);
      await settle(first.app, first.registry, RECORDS);
      const changelog = 'checkpoints-counts-changelog:0';
      if (guarantee === 'at_least_once') {
        // past 10k changelog records, a commit writes the checkpoint while the task runs
        while ((await checkpoint.read()).get(changelog) !== RECORDS)
          await new Promise((r) => setTimeout(r, 10));
      } else {
        await first.app.commit();
        // exactly_once deleted it when the task opened its store: a crash now restores everything
        expect(await checkpoint.read()).toEqual(new Map());
      }
      await first.app.stop();
      expect(await checkpoint.read()).toEqual(new Map([[changelog, RECORDS]]));

      append(transport, 1, 0);
      const second = await run(transport, stateDir, guarantee);
      await settle(second.app, second.registry, 1);
      expect(await total(second.registry, 'veroai_restore_records_total')).toBe(0);
      const counts = second.app.queryStore<KeyValueStore<string, number>>('counts', 'k0');
      expect(await counts?.get('k0')).toBe(2);
      expect(await counts?.get(`k${RECORDS - 1}`)).toBe(1);
      await second.app.stop();
    },
  );
});

describe.each(['memory', 'rocksdb'] as StoreType[])('window retention: %s stores', (storeType) => {
  const applicationId = `retention-${storeType}-${process.pid}`;
  afterAll(async () => {
    // rocksdb stores chosen in the DSL live under the application's default state directory
    await rm(join(tmpdir(), 'veroai-streams', applicationId), { recursive: true, force: true });
  });

  /** Pipes one record per batch; returns the driver and the last changelog value per changelog key. */
  async function run(
    build: (builder: TopologyBuilder) => void,
    store: string,
    events: Array<[string, number]>,
  ) {
    const builder = new TopologyBuilder();
    build(builder);
    const driver = await TestDriver.create(builder.build(), { applicationId });
    for (const [key, timestamp] of events) await driver.pipeInput('in', key, 'v', timestamp);
    const topic = changelogTopic(applicationId, store);
    const latest = new Map<string, Buffer | null>();
    for (const r of driver.transport.log.read(topic, 0, 0, 1_000))
      latest.set(r.key!.toString('latin1'), r.value);
    return { driver, latest };
  }

  const windowedKey = (key: string, start: number, end: number) =>
    windowedSerde(Serdes.string as never)
      .serialize({ key, window: { start, end } }, '')!
      .toString('latin1');

  it('sessions whose end plus gap plus grace is behind stream time are deleted, with tombstones', async () => {
    const { driver, latest } = await run(
      (b) =>
        b
          .stream('in', { key: Serdes.string, value: Serdes.string })
          .groupByKey()
          .windowedBy(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000))
          .count({ name: 'sessions', store: storeType }),
      'sessions',
      // a sweep waits for stream time to move on by a minute (and gap + grace): at 100 s, sessions ended before 85 s go
      [
        ['a', 0],
        ['a', 5_000],
        ['c', 90_000],
        ['b', 100_000],
      ],
    );
    const sessions = (key: string) =>
      driver.app.queryStore<SessionStore<string, number>>('sessions', key)!.fetch(key);
    expect(await sessions('a')).toEqual([]);
    expect(await sessions('c')).toEqual([[{ key: 'c', window: { start: 90_000, end: 90_000 } }, 1]]);
    expect(latest.get(windowedKey('a', 0, 5_000))).toBeNull();
    expect(latest.get(windowedKey('c', 90_000, 90_000))).not.toBeNull();
    await driver.close();
  });

  it('time windows whose end plus grace is behind stream time are deleted, with tombstones', async () => {
    const { driver, latest } = await run(
      (b) =>
        b
          .stream('in', { key: Serdes.string, value: Serdes.string })
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(10_000, 0))
          .count({ name: 'windows', store: storeType }),
      'windows',
      [
        ['a', 0],
        ['a', 12_000],
        ['b', 100_000],
      ],
    );
    const [local] = driver.app.localStores('windows');
    const windows = local!.store as KeyValueStore<Windowed<string>, number>;
    expect((await collect(windows.all())).map(([k, n]) => [k.key, k.window.start, n])).toEqual([
      ['b', 100_000, 1],
    ]);
    expect(latest.get(windowedKey('a', 0, 10_000))).toBeNull();
    expect(latest.get(windowedKey('a', 10_000, 20_000))).toBeNull();
    await driver.close();
  });
});

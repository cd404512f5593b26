import { readInt64BE, writeInt64BE } from '../serdes/int64.js';
import { type BatchOperation, RocksDbDatabase, type ScanRange } from './rocksdb-database.js';

/**
 * How a RocksDB windowed store lays out its database so that a retention
 * sweep reads only what expires, as Kafka Streams' segmented stores drop
 * whole time segments:
 *
 * - `0x00 | time | ...` → empty: the index by window end. `time` is 8 bytes
 *   big-endian with the sign bit flipped, so that byte order is time order:
 *   what ended before a time is one range scan from the start.
 *   - A key-value store of windowed keys: `0x00 | end | windowed key` (key
 *     bytes, start, end: the changelog's key), one entry per window.
 *   - A session store: `0x00 | minute | key bytes`, one entry per key and
 *     minute (SESSION_INDEX_MS) in which some session of the key ends. A
 *     session's end moves with every event that extends it; indexed by the
 *     minute, the index changes about once a minute per active key, not on
 *     every update. A sweep reads the keys indexed in the minutes before its
 *     cutoff, the cutoff's own minute included (its sessions ending after
 *     the cutoff are read, not deleted).
 * - `0x01 | ...`: the store's data.
 * - `0x02` → layout version: the database has this layout (and its index).
 *
 * An index entry is written in the same write batch as the data it indexes,
 * which RocksDB applies atomically (through its write-ahead log): after a
 * crash or a SIGKILL at any point the files hold both or neither. A restore
 * from the changelog writes through the same flush, so it rebuilds the index
 * as it goes.
 */
export const DATA_MARKER = 0x01;
const INDEX_MARKER = 0x00;
const TIME_BYTES = 8;
/** The windowed key's tail: start and end, 8 bytes each. */
export const WINDOW_BYTES = 16;
/** A session store indexes its keys by the minute in which their sessions end. */
export const SESSION_INDEX_MS = 60_000;
const LAYOUT_KEY = Buffer.from([0x02]);
const LAYOUT_VERSION = Buffer.from([1]);

/** The data entries: all keys that start with the data marker. */
export const DATA_RANGE = { gte: Buffer.from([DATA_MARKER]), lt: LAYOUT_KEY } as const;

/** The index key of a window of a key-value store, given its windowed key (key bytes, start, end). */
export function windowIndexKey(windowedKey: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + TIME_BYTES + windowedKey.length);
  out[0] = INDEX_MARKER;
  windowedKey.copy(out, 1, windowedKey.length - TIME_BYTES);
  out[1]! ^= 0x80;
  windowedKey.copy(out, 1 + TIME_BYTES);
  return out;
}

/** The minute (its first millisecond) under which a session store indexes a session ending at `end`. */
export const sessionIndexTime = (end: number) => Math.floor(end / SESSION_INDEX_MS) * SESSION_INDEX_MS;

/** The index key of a session store's key whose sessions end in the minute that starts at `time`. */
export function sessionIndexKey(keyBytes: Buffer, time: number): Buffer {
  const out = Buffer.allocUnsafe(1 + TIME_BYTES + keyBytes.length);
  out[0] = INDEX_MARKER;
  writeTime(out, time, 1);
  keyBytes.copy(out, 1 + TIME_BYTES);
  return out;
}

/**
 * The index entries under a time before `cutoff`: the windows that ended
 * before it (a key-value store), the keys with sessions that may have (a
 * session store: a minute that starts before the cutoff).
 */
export function indexedBefore(cutoff: number): ScanRange {
  return { gte: Buffer.from([INDEX_MARKER]), lt: indexBound(cutoff) };
}

/**
 * The index entries under a time from `from` (included) on, and before
 * `cutoff` if given. A reader that took every window ending before `from`
 * starts there: RocksDB's iterator would otherwise step over the tombstones
 * of all it took, until a compaction drops them.
 */
export function indexedFrom(from: number, cutoff?: number): ScanRange {
  return {
    gte: indexBound(from),
    lt: cutoff === undefined ? Buffer.from([INDEX_MARKER + 1]) : indexBound(cutoff),
  };
}

/** The time an index key is under (a window end, or a session store's minute). */
export function indexedTime(indexKey: Buffer): number {
  const time = Buffer.from(indexKey.subarray(1, 1 + TIME_BYTES));
  time[0]! ^= 0x80;
  return readInt64BE(time, 0);
}

/** The first index key under `time` or later. */
function indexBound(time: number): Buffer {
  const bound = Buffer.allocUnsafe(1 + TIME_BYTES);
  bound[0] = INDEX_MARKER;
  // times are whole milliseconds: time < cutoff is time < ceil(cutoff)
  writeTime(bound, Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, Math.ceil(time))), 1);
  return bound;
}

/** What an index key holds after its time: a windowed key, or a session store's key bytes. */
export function indexedKey(indexKey: Buffer): Buffer {
  return indexKey.subarray(1 + TIME_BYTES);
}

/**
 * Opens a windowed store's database. One without this layout's mark (a new
 * one, or one a previous version wrote, data only) is first given its index
 * by `addIndex`, which returns the last writes to make: they are written with
 * the mark, in one batch, so that a crash before leaves a database the next
 * open indexes again.
 */
export async function openWindowStore(
  directory: string,
  addIndex: (db: RocksDbDatabase) => Promise<BatchOperation[]>,
): Promise<RocksDbDatabase> {
  const db = await RocksDbDatabase.open(directory);
  if ((await db.get(LAYOUT_KEY)) === undefined)
    await db.write([...(await addIndex(db)), { type: 'put', key: LAYOUT_KEY, value: LAYOUT_VERSION }]);
  return db;
}

function writeTime(out: Buffer, time: number, at: number): void {
  writeInt64BE(out, time, at);
  out[at]! ^= 0x80;
}

import { DeserializationError, errorCodes } from '../errors.js';
import { readInt64BE, writeInt64BE } from '../serdes/int64.js';
import type { Serde } from '../serdes/serde.js';
import type { Windowed } from './windows.js';

/**
 * Windowed keys as bytes: the inner key's bytes, then the window start and end
 * as 8-byte big-endian integers. Keys of one record key sort by window start,
 * so a store can scan one key's windows in order.
 */
export function windowedSerde<K>(inner: Serde<K>): Serde<Windowed<K>> {
  return {
    name: `windowed(${inner.name})`,
    prepare: inner.prepare === undefined ? undefined : (topic) => inner.prepare!(topic),
    serialize(value, topic) {
      if (value === null || value === undefined) return null;
      const key = inner.serialize(value.key, topic) ?? Buffer.alloc(0);
      const out = Buffer.allocUnsafe(key.length + 16);
      key.copy(out, 0);
      writeInt64BE(out, value.window.start, key.length);
      writeInt64BE(out, value.window.end, key.length + 8);
      return out;
    },
    deserialize(data, topic) {
      if (data === null || data.length < 16) {
        throw new DeserializationError(
          errorCodes.decodeTruncated,
          `topic '${topic}': a windowed key needs at least 16 bytes, got ${data?.length ?? 'null'}`,
        );
      }
      const start = readInt64BE(data, data.length - 16);
      const end = readInt64BE(data, data.length - 8);
      const key = inner.deserialize(data.subarray(0, data.length - 16), topic);
      if (key instanceof Promise) return key.then((k) => ({ key: k, window: { start, end } }));
      return { key, window: { start, end } };
    },
  };
}

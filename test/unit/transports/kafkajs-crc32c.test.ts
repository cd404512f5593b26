/**
 * patches/kafkajs+2.2.4.patch makes kafkajs checksum a produce request's
 * record batches (CRC32-C) with @node-rs/crc32's native code instead of its
 * JavaScript table (~180 MB/s here, 1.3 % of the first pipeline's main
 * thread at 5k events/s). The checksum must be the same: checked here against
 * the standard check value and against kafkajs's own JavaScript function.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../processors/seeded-random.js';

const require = createRequire(import.meta.url);
/** What kafkajs's produce encoder calls. */
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;
/** kafkajs's JavaScript implementation, signed as it returns it. */
const javascriptCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (
  buffer: Buffer,
) => number;

describe('kafkajs record batch checksum (CRC32-C)', () => {
  it('is the native function', () => {
    expect(crc32C).toBe((require('@node-rs/crc32') as { crc32c: unknown }).crc32c);
  });

  it('gives the standard check value and kafkajs’s own checksum of any bytes', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32C(Buffer.alloc(0))).toBe(0);
    const random = seededRandom(7);
    for (const length of [1, 7, 64, 1_000, 65_537]) {
      const bytes = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
      // of a view into a larger buffer too, as the encoder passes it
      const view = Buffer.concat([Buffer.from([1, 2, 3]), bytes]).subarray(3);
      expect(crc32C(bytes)).toBe(javascriptCrc32C(bytes) >>> 0);
      expect(crc32C(view)).toBe(javascriptCrc32C(bytes) >>> 0);
    }
  });
});

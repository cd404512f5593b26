import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SampleTraffic } from '../../../cli/sample-traffic.js';
import {
  avroSerde,
  defaultCatalog,
  SchemaCatalog,
  schemaRegistry,
  type TelemetryEvent,
  telemetryEventSerde,
} from '../../../schemas/index.js';
import { type FakeSchemaRegistry, startFakeSchemaRegistry } from '../../support/fake-schema-registry.js';

/**
 * TelemetryEvent v2 adds `deployment`, `clientIp` and `userAgent`, each
 * nullable with default null, to v1 (schemas/history/telemetry_event.v1.avsc):
 * records of either version decode with the other.
 */
const schemasDir = fileURLToPath(new URL('../../../schemas/', import.meta.url));
const topic = 'raw_events';
const NAME = 'ai.vero.streams.TelemetryEvent';

const catalog = defaultCatalog();
const current = catalog.byTypeName('TelemetryEvent')!;
const v1 = catalog.versionsOf(NAME).find((v) => v.file === 'history/telemetry_event.v1.avsc')!;

const sample: TelemetryEvent = new SampleTraffic({ seed: 11, startTime: 1_700_000_000_000 }).next();
/** An event as a v2 producer writes it: all three new fields set. */
const v2Event: TelemetryEvent = {
  ...sample,
  deployment: { service: 'checkout-api', version: '2.5.0-rc1', track: 'canary' },
  clientIp: '203.0.113.7',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
};
const { deployment: _d, clientIp: _c, userAgent: _u, ...v1Event } = v2Event;

function framed(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

describe('TelemetryEvent v1 and v2', () => {
  it('are both in the catalog: v1 from schemas/history/, v2 current, with ids of their own', () => {
    expect(v1).toBeDefined();
    expect(v1.current).toBe(false);
    expect(current.current).toBe(true);
    expect(catalog.versionsOf(NAME).map((v) => v.file)).toEqual([
      'history/telemetry_event.v1.avsc',
      'telemetry_event.avsc',
    ]);
    expect(catalog.byLocalId(v1.id)).toBe(v1);
    expect(v1.id).not.toBe(current.id);
    const added = current.type.schema() as { fields: Array<{ name: string }> };
    expect(added.fields.map((f) => f.name).slice(-3)).toEqual(['deployment', 'clientIp', 'userAgent']);
  });

  it('backward: a record written with v1 (its catalog id, its body) decodes with the current serde, new fields null', async () => {
    const serde = telemetryEventSerde();
    const decoded = await serde.deserialize(framed(v1.id, v1.type.toBuffer(v1Event)), topic);
    expect({ ...decoded }).toEqual({ ...v1Event, deployment: null, clientIp: null, userAgent: null });
  });

  it('the serde still writes with the current version id, and reads that back with every field', async () => {
    const serde = telemetryEventSerde();
    await serde.prepare?.(topic);
    const bytes = serde.serialize(v2Event, topic)!;
    expect(bytes.readUInt32BE(1)).toBe(current.id);
    const decoded = await serde.deserialize(bytes, topic);
    expect({ ...decoded, deployment: { ...decoded.deployment } }).toEqual(v2Event);
  });

  it('forward: a record written with v2 decodes with a v1 reader through Avro resolution', () => {
    const resolver = v1.type.createResolver(current.type);
    const decoded = v1.type.fromBuffer(current.type.toBuffer(v2Event), resolver) as Record<string, unknown>;
    expect({ ...decoded }).toEqual(v1Event);
  });

  describe('forward through the serde of a v1 consumer', () => {
    let registry: FakeSchemaRegistry;
    let v1Dir: string;

    beforeAll(async () => {
      registry = await startFakeSchemaRegistry();
      // a consumer deployed before v2: its schemas/ has v1 as the current TelemetryEvent
      v1Dir = mkdtempSync(join(tmpdir(), 'veroai-schemas-v1-'));
      copyFileSync(join(schemasDir, 'history/telemetry_event.v1.avsc'), join(v1Dir, 'telemetry_event.avsc'));
    });

    afterAll(async () => {
      await registry.close();
      rmSync(v1Dir, { recursive: true, force: true });
    });

    it('fetches the v2 writer schema from the registry and decodes into v1', async () => {
      const v1Catalog = new SchemaCatalog(v1Dir);
      expect(v1Catalog.byTypeName('TelemetryEvent')!.id).toBe(v1.id);
      // a v2 producer registered its schema
      const id = await registry.register(`${topic}-value`, JSON.stringify(current.type.schema()));
      const serde = avroSerde<Record<string, unknown>>('TelemetryEvent', {
        catalog: v1Catalog,
        registry: schemaRegistry(registry.url),
      });
      const decoded = await serde.deserialize(framed(id, current.type.toBuffer(v2Event)), topic);
      expect({ ...decoded }).toEqual(v1Event);
      expect(registry.requests).toContain(`GET /schemas/ids/${id}`);
    });
  });
});

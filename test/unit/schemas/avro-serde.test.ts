import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SampleTraffic } from '../../../cli/sample-traffic.js';
import {
  avroSerde,
  defaultCatalog,
  type TelemetryEvent,
  telemetryEventSerde,
} from '../../../schemas/index.js';
import { DeserializationError, errorCodes, SerializationError } from '../../../topology/index.js';
import { type FakeSchemaRegistry, startFakeSchemaRegistry } from '../../support/fake-schema-registry.js';

const event: TelemetryEvent = new SampleTraffic({ seed: 3, startTime: 1_700_000_000_000 }).next();
const topic = 'raw_events';

async function codeOf(run: () => unknown): Promise<string | undefined> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(DeserializationError);
    return (error as DeserializationError).code;
  }
  return undefined;
}

describe('the Avro serde in local-catalog mode', () => {
  const serde = telemetryEventSerde();
  const id = defaultCatalog().byTypeName('TelemetryEvent')!.id;

  it('round-trips a TelemetryEvent behind the Confluent header', async () => {
    await serde.prepare?.(topic);
    const bytes = serde.serialize(event, topic)!;
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(id);
    expect({ ...(await serde.deserialize(bytes, topic)) }).toEqual(event);
  });

  it('gives every kind of bad bytes its own code', async () => {
    const good = serde.serialize(event, topic)!;
    const unknownId = Buffer.from(good);
    unknownId.writeUInt32BE(9999, 1);
    expect(await codeOf(() => serde.deserialize(null, topic))).toBe(errorCodes.decodeNull);
    expect(await codeOf(() => serde.deserialize(Buffer.from('{"json":true}'), topic))).toBe(
      errorCodes.decodeMagicByte,
    );
    expect(await codeOf(() => serde.deserialize(Buffer.from([0, 0, 0]), topic))).toBe(
      errorCodes.decodeTruncated,
    );
    expect(await codeOf(() => serde.deserialize(good.subarray(0, good.length - 4), topic))).toBe(
      errorCodes.decodeTruncated,
    );
    expect(await codeOf(() => serde.deserialize(unknownId, topic))).toBe(errorCodes.decodeUnknownSchema);
    expect(await codeOf(() => serde.deserialize(Buffer.concat([good, Buffer.from([1, 2, 3])]), topic))).toBe(
      errorCodes.decodeInvalid,
    );
  });

  it('writes values larger than its encoding buffer, each into bytes of its own', async () => {
    const large = { ...event, payload: { ...event.payload, errorMessage: 'x'.repeat(20_000) } };
    const small = serde.serialize(event, topic)!;
    const copy = Buffer.from(small);
    const bytes = serde.serialize(large, topic)!;
    expect(bytes.length).toBeGreaterThan(20_000);
    expect(bytes.readUInt32BE(1)).toBe(id);
    expect({ ...(await serde.deserialize(bytes, topic)) }).toEqual(large);
    // the bytes handed out earlier are not the encoder's: a later value does not overwrite them
    serde.serialize(large, topic);
    expect(small.equals(copy)).toBe(true);
    expect({ ...(await serde.deserialize(serde.serialize(event, topic)!, topic)) }).toEqual(event);
  });

  it('refuses to write an invalid value, naming the field', () => {
    const bad = { ...event, eventType: 'teleport' } as unknown as TelemetryEvent;
    expect(() => serde.serialize(bad, topic)).toThrow(SerializationError);
    expect(() => serde.serialize(bad, topic)).toThrow(/eventType = "teleport"/);
  });

  it('names each current schema with its catalog id', () => {
    const names = defaultCatalog()
      .entries()
      .map((e) => [e.id, e.name]);
    expect(names).toContainEqual([id, 'ai.vero.streams.TelemetryEvent']);
    expect(() => avroSerde('NoSuchType')).toThrow(/no Avro schema named 'NoSuchType'/);
  });
});

describe('the Avro serde against a schema registry', () => {
  let registry: FakeSchemaRegistry;
  let url: string;
  let requests: string[];

  beforeAll(async () => {
    registry = await startFakeSchemaRegistry();
    url = registry.url;
    requests = registry.requests;
  });

  afterAll(() => registry.close());

  it('registers under <topic>-value and writes the registry id', async () => {
    const serde = telemetryEventSerde({ registryUrl: url });
    await serde.prepare?.('raw_events');
    expect(requests).toContain('POST /subjects/raw_events-value/versions');
    const bytes = serde.serialize(event, 'raw_events')!;
    expect(bytes.readUInt32BE(1)).toBe(100);
    expect({ ...(await serde.deserialize(bytes, 'raw_events')) }).toEqual(event);
  });

  it('decodes a record written with an older writer schema through schema resolution', async () => {
    // an older producer: no metadata.version, no payload.ticketId
    const current = JSON.parse(
      JSON.stringify(defaultCatalog().byTypeName('TelemetryEvent')!.type.schema()),
    ) as {
      fields: Array<{ name: string; type: { fields?: Array<{ name: string }> } }>;
    };
    const older = structuredClone(current);
    const payload = older.fields.find((f) => f.name === 'payload')!.type;
    payload.fields = payload.fields!.filter((f) => f.name !== 'ticketId');
    const writer = avro.Type.forSchema(older as unknown as avro.Schema);
    // registered by another producer, so the serde's client has never seen it
    const id = await registry.register('legacy-value', JSON.stringify(older));
    const { ticketId: _dropped, ...olderPayload } = event.payload;
    const body = writer.toBuffer({ ...event, payload: olderPayload });
    const header = Buffer.from([0, 0, 0, 0, 0]);
    header.writeUInt32BE(id, 1);
    const serde = telemetryEventSerde({ registryUrl: url });
    const decoded = await serde.deserialize(Buffer.concat([header, body]), 'raw_events');
    expect(decoded.eventId).toBe(event.eventId);
    expect(decoded.payload.ticketId).toBeNull();
    expect(requests).toContain(`GET /schemas/ids/${id}`);
  });

  it('an id the registry does not know is an unknown-schema error', async () => {
    const serde = telemetryEventSerde({ registryUrl: url });
    const bytes = Buffer.from([0, 0, 0, 0x30, 0x39, 2, 3]);
    expect(await codeOf(() => serde.deserialize(bytes, 'raw_events'))).toBe(errorCodes.decodeUnknownSchema);
  });
});

import avro from 'avsc';
import {
  DeserializationError,
  errorCodes,
  type Serde,
  SerializationError,
  TopologyError,
} from '../topology/index.js';
import { defaultCatalog, type SchemaCatalog } from './catalog.js';

/** What the serde needs of a Confluent Schema Registry client (`@kafkajs/confluent-schema-registry`). */
export interface SchemaRegistryClient {
  register(schema: { type: 'AVRO'; schema: string }, options: { subject: string }): Promise<{ id: number }>;
  getSchema(id: number): Promise<unknown>;
}

export interface AvroSerdeOptions {
  /** With a registry: register under `<topic>-value` and resolve unknown writer ids there. */
  readonly registry?: SchemaRegistryClient | undefined;
  readonly catalog?: SchemaCatalog;
}

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/**
 * Avro values in the Confluent wire format: byte 0 is the magic byte 0,
 * bytes 1-4 the big-endian schema id, then the Avro binary body. Without a
 * registry the ids are the local catalog's: the serde writes with the current
 * version of its schema and reads every version the catalog knows (its
 * `schemas/history/`). With a registry, the schema is registered per topic in
 * `prepare()` and a writer id the serde has not seen is fetched there. Either
 * way a record written with another (compatible) version is decoded through
 * Avro schema resolution into the current one.
 */
export function avroSerde<T>(typeName: string, options: AvroSerdeOptions = {}): Serde<T> {
  const catalog = options.catalog ?? defaultCatalog();
  const entry = catalog.byTypeName(typeName);
  if (entry === undefined) {
    throw new TopologyError(
      `no Avro schema named '${typeName}' in schemas/`,
      `one of: ${catalog
        .entries()
        .map((e) => e.name)
        .join(', ')}`,
    );
  }
  const reader = entry.type;
  const registry = options.registry;
  /** Writer id per topic: the registry's, or the local catalog id. */
  const writerIds = new Map<string, number>();
  /** How to read bodies written with a schema id: the reader itself, or a resolver from the writer's schema. */
  const readers = new Map<number, avro.Type | avro.Resolver>();
  if (registry === undefined)
    for (const version of catalog.versionsOf(entry.name))
      readers.set(version.id, version.current ? reader : reader.createResolver(version.type));
  const pending = new Map<number, Promise<avro.Type | avro.Resolver>>();

  /** Where values are encoded, header first, before their bytes are copied out; grows to the largest value. */
  let scratch = Buffer.allocUnsafe(4_096);
  const encode = (id: number, value: T): Buffer => {
    scratch.writeUInt8(MAGIC_BYTE, 0);
    scratch.writeUInt32BE(id, 1);
    const end = reader.encode(value, scratch, HEADER_BYTES);
    // a negative end: the value needs that many bytes more than the scratch holds
    if (end < 0) {
      scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
      return encode(id, value);
    }
    return Buffer.from(scratch.subarray(0, end));
  };
  /** What makes `value` invalid, path by path (only asked once it is known to be invalid). */
  const problemsOf = (value: T): string[] => {
    const problems: string[] = [];
    reader.isValid(value, {
      errorHook: (path, bad) => problems.push(`${path.join('.') || '(root)'} = ${JSON.stringify(bad)}`),
    });
    return problems;
  };

  const decodeBody = (how: avro.Type | avro.Resolver, data: Buffer, topic: string, id: number): T => {
    let result: { value: T; offset: number };
    try {
      result =
        how instanceof avro.Type
          ? (reader.decode(data, HEADER_BYTES) as { value: T; offset: number })
          : (reader.decode(data, HEADER_BYTES, how) as { value: T; offset: number });
    } catch (cause) {
      throw new DeserializationError(
        errorCodes.decodeInvalid,
        `topic '${topic}': the Avro body (schema id ${id}) does not decode as ${reader.name}: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (result.offset === -1) {
      throw new DeserializationError(
        errorCodes.decodeTruncated,
        `topic '${topic}': the Avro body (schema id ${id}) ends before the ${reader.name} does (${data.length} bytes)`,
      );
    }
    if (result.offset !== data.length) {
      throw new DeserializationError(
        errorCodes.decodeInvalid,
        `topic '${topic}': ${data.length - result.offset} bytes left after the ${reader.name} (schema id ${id}): not this type`,
      );
    }
    return result.value;
  };

  const fetchWriter = (id: number, topic: string): Promise<avro.Type | avro.Resolver> => {
    let promise = pending.get(id);
    if (promise === undefined) {
      promise = (async () => {
        let schema: unknown;
        try {
          schema = await registry!.getSchema(id);
        } catch (cause) {
          pending.delete(id);
          const status = (cause as { status?: number })?.status;
          const code =
            status === 404 || /not found/i.test(String((cause as Error)?.message))
              ? errorCodes.decodeUnknownSchema
              : errorCodes.decodeInvalid;
          throw new DeserializationError(
            code,
            `topic '${topic}': schema id ${id} could not be fetched from the registry: ${(cause as Error)?.message}`,
            { cause },
          );
        }
        const writer = avro.Type.forSchema((schema as { schema(): avro.Schema }).schema());
        const how = writer.equals(reader) ? reader : reader.createResolver(writer);
        readers.set(id, how);
        return how;
      })();
      pending.set(id, promise);
    }
    return promise;
  };

  return {
    name: `avro(${reader.name?.split('.').pop()})`,

    async prepare(topic: string): Promise<void> {
      if (writerIds.has(topic)) return;
      if (registry === undefined) {
        writerIds.set(topic, entry.id);
        return;
      }
      const { id } = await registry.register(
        { type: 'AVRO', schema: JSON.stringify(reader.schema()) },
        { subject: `${topic}-value` },
      );
      writerIds.set(topic, id);
      readers.set(id, reader);
    },

    serialize(value: T, topic: string): Buffer | null {
      if (value === null || value === undefined) return null;
      const id = writerIds.get(topic) ?? (registry === undefined ? entry.id : undefined);
      if (id === undefined)
        throw new SerializationError(
          `avro(${reader.name}): topic '${topic}' was not prepared (no schema id registered yet)`,
        );
      if (!reader.isValid(value))
        throw new SerializationError(
          `topic '${topic}': not a valid ${reader.name}: ${problemsOf(value).slice(0, 5).join('; ')}`,
        );
      return encode(id, value);
    },

    deserialize(data: Buffer | null, topic: string): T | Promise<T> {
      if (data === null)
        throw new DeserializationError(
          errorCodes.decodeNull,
          `topic '${topic}': the value is null, expected an Avro ${reader.name}`,
        );
      if (data.length < HEADER_BYTES) {
        throw new DeserializationError(
          errorCodes.decodeTruncated,
          `topic '${topic}': ${data.length} bytes is shorter than the 5-byte Confluent header`,
        );
      }
      if (data[0] !== MAGIC_BYTE) {
        throw new DeserializationError(
          errorCodes.decodeMagicByte,
          `topic '${topic}': first byte is ${data[0]}, not the Confluent magic byte 0: not Avro in the Confluent wire format`,
        );
      }
      const id = data.readUInt32BE(1);
      const how = readers.get(id);
      if (how !== undefined) return decodeBody(how, data, topic, id);
      if (registry === undefined) {
        const other = catalog.byLocalId(id);
        if (other !== undefined)
          throw new DeserializationError(
            errorCodes.decodeUnknownSchema,
            `topic '${topic}': schema id ${id} is ${other.name} (schemas/${other.file}), not a ${reader.name}`,
            { hint: `the producer wrote another type to '${topic}': check which topic it writes` },
          );
        throw new DeserializationError(
          errorCodes.decodeUnknownSchema,
          `topic '${topic}': schema id ${id} is not in the local catalog (${reader.name} reads ids ${[...readers.keys()].join(', ')})`,
          {
            hint: 'set SCHEMA_REGISTRY_URL if producers register their schemas in a registry; a schema version the producer used belongs in schemas/history/',
          },
        );
      }
      return fetchWriter(id, topic).then((resolved) => decodeBody(resolved, data, topic, id));
    },
  };
}

/** Avro schemas of the platform's topics, their codec and the schema registry client. */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Serde } from '../topology/index.js';
import { avroSerde, type SchemaRegistryClient } from './avro-serde.js';
import type { TelemetryEvent } from './telemetry-event.js';

export { type AvroSerdeOptions, avroSerde, type SchemaRegistryClient } from './avro-serde.js';
export { type CatalogEntry, defaultCatalog, SchemaCatalog } from './catalog.js';
export * from './telemetry-event.js';

const registries = new Map<string, SchemaRegistryClient>();

/** A Confluent Schema Registry client per URL, shared by the serdes that use it. */
export function schemaRegistry(url: string): SchemaRegistryClient {
  let client = registries.get(url);
  if (client === undefined) {
    client = new SchemaRegistry({ host: url }) as unknown as SchemaRegistryClient;
    registries.set(url, client);
  }
  return client;
}

/** The serde of `raw_events` values: registry-backed when a URL is given, else the local catalog. */
export function telemetryEventSerde(options: { registryUrl?: string } = {}): Serde<TelemetryEvent> {
  return avroSerde<TelemetryEvent>(
    'TelemetryEvent',
    options.registryUrl === undefined ? {} : { registry: schemaRegistry(options.registryUrl) },
  );
}

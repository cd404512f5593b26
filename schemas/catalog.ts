import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { ConfigError } from '../topology/index.js';

const schemasDir = dirname(fileURLToPath(import.meta.url));

export interface CatalogEntry {
  /** Full name, e.g. `ai.vero.streams.TelemetryEvent`. */
  readonly name: string;
  readonly id: number;
  readonly type: avro.Type;
  readonly file: string;
}

/**
 * The schemas of `schemas/*.avsc`, with local ids for the Confluent wire format
 * when no schema registry is configured. Ids are assigned 1..n in order of
 * full name: stable for one version of this folder, not across versions
 * (adding a schema may shift them). Use a registry when data must outlive that.
 */
export class SchemaCatalog {
  private readonly byName = new Map<string, CatalogEntry>();
  private readonly byId = new Map<number, CatalogEntry>();

  constructor(directory: string = schemasDir) {
    const loaded: Array<{ name: string; type: avro.Type; file: string }> = [];
    for (const file of readdirSync(directory)
      .filter((f) => f.endsWith('.avsc'))
      .sort()) {
      let type: avro.Type;
      try {
        type = avro.Type.forSchema(JSON.parse(readFileSync(join(directory, file), 'utf8')) as avro.Schema);
      } catch (error) {
        throw new ConfigError(`schemas/${file} is not a valid Avro schema: ${(error as Error).message}`);
      }
      if (type.name === undefined)
        throw new ConfigError(`schemas/${file} must define a named type (a record)`);
      loaded.push({ name: type.name, type, file });
    }
    loaded.sort((a, b) => a.name.localeCompare(b.name));
    loaded.forEach((entry, i) => {
      const withId = { ...entry, id: i + 1 };
      this.byName.set(entry.name, withId);
      this.byId.set(withId.id, withId);
    });
  }

  /** By full name (`ai.vero.streams.TelemetryEvent`) or short name (`TelemetryEvent`). */
  byTypeName(name: string): CatalogEntry | undefined {
    const exact = this.byName.get(name);
    if (exact !== undefined) return exact;
    for (const entry of this.byName.values()) if (entry.name.endsWith(`.${name}`)) return entry;
    return undefined;
  }

  byLocalId(id: number): CatalogEntry | undefined {
    return this.byId.get(id);
  }

  entries(): CatalogEntry[] {
    return [...this.byId.values()];
  }
}

let shared: SchemaCatalog | undefined;

/** The catalog of this repository's schemas/ folder, loaded once. */
export function defaultCatalog(): SchemaCatalog {
  shared ??= new SchemaCatalog();
  return shared;
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { ConfigError } from '../topology/index.js';

const schemasDir = dirname(fileURLToPath(import.meta.url));
const HISTORY = 'history';

/** One version of a schema: the current one in `schemas/`, or an older one in `schemas/history/`. */
export interface CatalogEntry {
  /** Full name, e.g. `ai.vero.streams.TelemetryEvent`. */
  readonly name: string;
  /** Local schema id of this version, from its canonical form (see `schemaIdOf`). */
  readonly id: number;
  readonly type: avro.Type;
  /** Path in the catalog folder: `telemetry_event.avsc`, `history/telemetry_event.v1.avsc`. */
  readonly file: string;
  /** The version serdes write (in `schemas/`), or an older one they can still read (in `schemas/history/`). */
  readonly current: boolean;
}

export interface SchemaCatalogOptions {
  /** The local id of a schema version; `schemaIdOf` unless a test needs ids that collide. */
  readonly schemaId?: (type: avro.Type) => number;
}

/**
 * The local schema id of a schema version: the first 4 bytes of the SHA-256
 * fingerprint of its Avro Parsing Canonical Form, as a positive int31 (never 0).
 * It depends on that schema's text alone, so it is the same on every machine
 * and adding or changing another schema never shifts it. The canonical form
 * leaves out docs, defaults and aliases: schemas that differ only in those
 * encode alike and share an id.
 */
export function schemaIdOf(type: avro.Type): number {
  const id = type.fingerprint('sha256').readUInt32BE(0) & 0x7fffffff;
  return id === 0 ? 1 : id;
}

/**
 * The schemas of `schemas/*.avsc` and their earlier versions in
 * `schemas/history/*.avsc` (e.g. `history/telemetry_event.v1.avsc`, the text
 * a schema had before it changed), with local ids for the Confluent wire
 * format when no schema registry is configured.
 *
 * Each version's id comes from its own canonical form (`schemaIdOf`): stable
 * across machines, releases and the other schemas in the folder, so records
 * stay readable on a topic while schemas are added. A serde writes with the
 * current version and reads any version listed here, resolved to the current
 * one. Loading fails with a ConfigError, naming the files, when two files
 * define the same current schema, a history file's schema no longer exists or
 * cannot be read by the current version, or two versions have the same id.
 * Data whose producers and consumers release independently belongs in a
 * schema registry (`SCHEMA_REGISTRY_URL`), which keeps every version itself.
 */
export class SchemaCatalog {
  private readonly current = new Map<string, CatalogEntry>();
  private readonly byId = new Map<number, CatalogEntry>();
  private readonly older = new Map<string, CatalogEntry[]>();

  constructor(directory: string = schemasDir, options: SchemaCatalogOptions = {}) {
    const idOf = options.schemaId ?? schemaIdOf;
    const where = (file: string) => (directory === schemasDir ? `schemas/${file}` : join(directory, file));
    const load = (file: string, current: boolean): CatalogEntry => {
      let type: avro.Type;
      try {
        type = avro.Type.forSchema(JSON.parse(readFileSync(join(directory, file), 'utf8')) as avro.Schema);
      } catch (error) {
        throw new ConfigError(`${where(file)} is not a valid Avro schema: ${(error as Error).message}`);
      }
      if (type.name === undefined)
        throw new ConfigError(`${where(file)} must define a named type (a record)`);
      return { name: type.name, id: idOf(type), type, file, current };
    };
    const avscIn = (folder: string) =>
      readdirSync(folder)
        .filter((f) => f.endsWith('.avsc'))
        .sort();

    for (const file of avscIn(directory)) {
      const entry = load(file, true);
      const other = this.current.get(entry.name);
      if (other !== undefined)
        throw new ConfigError(
          `${where(other.file)} and ${where(file)} both define ${entry.name}: keep one; an earlier version belongs in ${where(HISTORY)}/`,
        );
      this.current.set(entry.name, entry);
    }

    const historyDir = join(directory, HISTORY);
    const history = existsSync(historyDir)
      ? avscIn(historyDir).map((f) => load(`${HISTORY}/${f}`, false))
      : [];
    for (const entry of history) {
      const now = this.current.get(entry.name);
      if (now === undefined)
        throw new ConfigError(
          `${where(entry.file)} is an earlier ${entry.name}, but no ${where('*.avsc')} defines ${entry.name} now: delete it with the schema, or restore the schema`,
        );
      try {
        now.type.createResolver(entry.type);
      } catch (error) {
        throw new ConfigError(
          `${where(now.file)} cannot read records written with ${where(entry.file)}: ${(error as Error).message}. Evolve a schema compatibly: add fields with a default, remove fields that had one, widen types`,
        );
      }
      const versions = this.older.get(entry.name) ?? [];
      versions.push(entry);
      this.older.set(entry.name, versions);
    }

    for (const entry of [...this.current.values(), ...history]) {
      const other = this.byId.get(entry.id);
      if (other !== undefined) throw collision(other, entry, where);
      this.byId.set(entry.id, entry);
    }
  }

  /** The current version, by full name (`ai.vero.streams.TelemetryEvent`) or short name (`TelemetryEvent`). */
  byTypeName(name: string): CatalogEntry | undefined {
    const exact = this.current.get(name);
    if (exact !== undefined) return exact;
    for (const entry of this.current.values()) if (entry.name.endsWith(`.${name}`)) return entry;
    return undefined;
  }

  /** Any version, current or earlier, by its local id. */
  byLocalId(id: number): CatalogEntry | undefined {
    return this.byId.get(id);
  }

  /** Every version of a schema (by full name): the earlier ones in file order, then the current one. */
  versionsOf(name: string): CatalogEntry[] {
    const current = this.current.get(name);
    return current === undefined ? [] : [...(this.older.get(name) ?? []), current];
  }

  /** The current version of each schema, by full name. */
  entries(): CatalogEntry[] {
    return [...this.current.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

function collision(first: CatalogEntry, second: CatalogEntry, where: (file: string) => string): ConfigError {
  if (first.name === second.name && first.type.equals(second.type))
    return new ConfigError(
      `${where(second.file)} and ${where(first.file)} are the same ${first.name} on the wire (schema id ${first.id}): they differ at most in docs, defaults or aliases. Delete ${where(second.file)}: a history file is only needed once fields or types change`,
    );
  return new ConfigError(
    `${where(first.file)} (${first.name}) and ${where(second.file)} (${second.name}) have the same local schema id ${first.id}: set SCHEMA_REGISTRY_URL so that a schema registry assigns the ids`,
  );
}

let shared: SchemaCatalog | undefined;

/** The catalog of this repository's schemas/ folder, loaded once. */
export function defaultCatalog(): SchemaCatalog {
  shared ??= new SchemaCatalog();
  return shared;
}

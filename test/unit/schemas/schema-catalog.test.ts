import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type avro from 'avsc';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultCatalog, SchemaCatalog, schemaIdOf, telemetryEventSerde } from '../../../schemas/index.js';
import { ConfigError, DeserializationError, errorCodes } from '../../../topology/index.js';

const schemasDir = fileURLToPath(new URL('../../../schemas/', import.meta.url));
const TELEMETRY = 'ai.vero.streams.TelemetryEvent';
const folders: string[] = [];

/** A copy of schemas/*.avsc and schemas/history/ in a temp folder. */
function copyOfSchemas(): string {
  const dir = mkdtempSync(join(tmpdir(), 'veroai-schemas-'));
  folders.push(dir);
  cpSync(schemasDir, dir, { recursive: true, filter: (src) => !src.endsWith('.ts') });
  return dir;
}

const telemetrySchema = (): { fields: Array<{ name: string; doc?: string }>; doc?: string } =>
  JSON.parse(readFileSync(join(schemasDir, 'telemetry_event.avsc'), 'utf8'));

const configErrorOf = (load: () => unknown): string => {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the catalog to refuse the folder');
};

afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('local schema ids', () => {
  it('come from each version’s canonical form, pinned: records on topics outlive releases', () => {
    const catalog = defaultCatalog();
    for (const entry of catalog.entries())
      for (const version of catalog.versionsOf(entry.name)) {
        expect(version.id).toBe(schemaIdOf(version.type));
        expect(version.id).toBeGreaterThan(0);
        expect(version.id).toBeLessThanOrEqual(0x7fffffff);
      }
    // the first TelemetryEvent (schemas/history/telemetry_event.v1.avsc): a change here strands its records
    expect(catalog.versionsOf(TELEMETRY)[0]!.id).toBe(727052017);
    expect(catalog.byTypeName('FeatureUpdate')!.id).toBe(50164084);
    expect(catalog.byTypeName('UserSession')!.id).toBe(1698961162);
  });

  it('do not change when an unrelated schema is added, even one sorting first', () => {
    const dir = copyOfSchemas();
    const before = new SchemaCatalog(dir);
    writeFileSync(
      join(dir, 'aaa_added.avsc'),
      JSON.stringify({
        type: 'record',
        name: 'AaaAdded',
        namespace: 'ai.vero.streams',
        fields: [{ name: 'id', type: 'string' }],
      }),
    );
    const after = new SchemaCatalog(dir);
    expect(after.byTypeName('AaaAdded')).toBeDefined();
    for (const entry of before.entries())
      expect(after.versionsOf(entry.name).map((v) => v.id)).toEqual(
        before.versionsOf(entry.name).map((v) => v.id),
      );
    expect(after.byTypeName('TelemetryEvent')!.id).toBe(defaultCatalog().byTypeName('TelemetryEvent')!.id);
  });

  it('do not change with docs or formatting: the canonical form leaves them out', () => {
    const dir = copyOfSchemas();
    const schema = telemetrySchema();
    schema.doc = 'reworded';
    writeFileSync(join(dir, 'telemetry_event.avsc'), JSON.stringify(schema));
    expect(new SchemaCatalog(dir).byTypeName('TelemetryEvent')!.id).toBe(
      defaultCatalog().byTypeName('TelemetryEvent')!.id,
    );
  });
});

describe('the catalog refuses, naming the files', () => {
  it('two versions whose ids collide', () => {
    const dir = copyOfSchemas();
    // a real 31-bit collision is not constructible in a test: force one through the id function
    const collidingId = (type: avro.Type) =>
      type.name === 'ai.vero.streams.UserSession' || type.name === 'ai.vero.streams.FeatureUpdate'
        ? 7
        : schemaIdOf(type);
    expect(configErrorOf(() => new SchemaCatalog(dir, { schemaId: collidingId }))).toBe(
      `${join(dir, 'feature_update.avsc')} (ai.vero.streams.FeatureUpdate) and ${join(dir, 'user_session.avsc')} (ai.vero.streams.UserSession) have the same local schema id 7: set SCHEMA_REGISTRY_URL so that a schema registry assigns the ids`,
    );
  });

  it('a history file that is the current schema on the wire (only docs differ)', () => {
    const dir = copyOfSchemas();
    const schema = telemetrySchema();
    schema.fields[0]!.doc = 'an older wording';
    writeFileSync(join(dir, 'history', 'telemetry_event.v2.avsc'), JSON.stringify(schema));
    const message = configErrorOf(() => new SchemaCatalog(dir));
    expect(message).toContain(
      `${join(dir, 'history/telemetry_event.v2.avsc')} and ${join(dir, 'telemetry_event.avsc')} are the same ${TELEMETRY} on the wire`,
    );
    expect(message).toContain(`Delete ${join(dir, 'history/telemetry_event.v2.avsc')}`);
  });

  it('a history version the current schema cannot read', () => {
    const dir = copyOfSchemas();
    const schema = telemetrySchema();
    schema.fields.push({ name: 'region', type: 'string' } as { name: string });
    writeFileSync(join(dir, 'telemetry_event.avsc'), JSON.stringify(schema));
    expect(configErrorOf(() => new SchemaCatalog(dir))).toMatch(
      new RegExp(
        `^${join(dir, 'telemetry_event.avsc')} cannot read records written with ${join(dir, 'history/telemetry_event.v1.avsc')}: .*add fields with a default`,
      ),
    );
  });

  it('a history file of a schema that no longer exists, and two files defining one schema', () => {
    const dir = copyOfSchemas();
    cpSync(join(dir, 'user_session.avsc'), join(dir, 'history', 'old_session.v1.avsc'));
    rmSync(join(dir, 'user_session.avsc'));
    expect(configErrorOf(() => new SchemaCatalog(dir))).toContain(
      `${join(dir, 'history/old_session.v1.avsc')} is an earlier ai.vero.streams.UserSession, but no`,
    );
    const twice = copyOfSchemas();
    cpSync(join(twice, 'user_session.avsc'), join(twice, 'user_session_copy.avsc'));
    expect(configErrorOf(() => new SchemaCatalog(twice))).toContain(
      `${join(twice, 'user_session.avsc')} and ${join(twice, 'user_session_copy.avsc')} both define ai.vero.streams.UserSession`,
    );
  });
});

describe('ids the serde cannot read', () => {
  const serde = telemetryEventSerde();
  const withId = (id: number) =>
    Buffer.from([0, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff, 2]);
  const failureOf = (bytes: Buffer): DeserializationError => {
    try {
      serde.deserialize(bytes, 'raw_events');
    } catch (error) {
      expect(error).toBeInstanceOf(DeserializationError);
      return error as DeserializationError;
    }
    throw new Error('expected a decode failure');
  };

  it('an id no version has: unknown schema, with the hint to use a registry', () => {
    const error = failureOf(withId(2));
    expect(error.code).toBe(errorCodes.decodeUnknownSchema);
    expect(error.message).toContain('schema id 2 is not in the local catalog');
    expect(error.hint).toMatch(/SCHEMA_REGISTRY_URL/);
  });

  it('the id of another type: unknown schema, naming that type', () => {
    const session = defaultCatalog().byTypeName('UserSession')!;
    const error = failureOf(withId(session.id));
    expect(error.code).toBe(errorCodes.decodeUnknownSchema);
    expect(error.message).toBe(
      `topic 'raw_events': schema id ${session.id} is ai.vero.streams.UserSession (schemas/user_session.avsc), not a ${TELEMETRY}`,
    );
  });
});

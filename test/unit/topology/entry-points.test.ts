/**
 * Loading the engine's core entry point, or any processor, schema, sink or API
 * module, never loads a Kafka client or the test tooling: those have entry
 * points of their own (topology/transports/kafka/index.js, topology/testing/index.js).
 * Checked on the static import graph, from the source files.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?'([^']+)'/g;

/** Every module reachable from `entry` by value imports (type-only imports are erased), and the packages they load. */
function reachable(entry: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      const statement = match[0];
      const specifier = match[1]!;
      if (/^\s*(?:import|export)\s+type\s/.test(statement.trimStart())) continue;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else
        packages.add(
          specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!,
        );
    }
  };
  visit(join(root, entry));
  return { modules, packages };
}

describe('entry points', () => {
  for (const entry of [
    'topology/index.ts',
    'processors/index.ts',
    'schemas/index.ts',
    'sinks/index.ts',
    'api/server.ts',
  ]) {
    it(`${entry} loads no Kafka client and no test tooling`, () => {
      const { modules, packages } = reachable(entry);
      expect([...packages].filter((p) => p === 'kafkajs')).toEqual([]);
      const tooling = [...modules].filter(
        (m) => m.includes(join('topology', 'testing')) || m.includes(join('transports', 'kafka')),
      );
      expect(tooling.map((m) => m.slice(root.length + 1))).toEqual([]);
    });
  }

  it('the kafka entry point does load kafkajs (the check can fail)', () => {
    expect(reachable('topology/transports/kafka/index.ts').packages.has('kafkajs')).toBe(true);
  });
});

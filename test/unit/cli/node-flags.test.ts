import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STREAMING_NODE_FLAGS } from '../../../cli/node-flags.js';

const root = join(import.meta.dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The flags a launcher gives node, in order: those of STREAMING_NODE_FLAGS' form only. */
const flagsIn = (command: string) => command.match(/--(?:max-semi-space-size=\d+|[a-z-]*pretenuring)/g) ?? [];

describe('the Node.js flags of a stream processor (cli/node-flags.ts)', () => {
  it("are the veroai launcher's shebang flags", () => {
    const shebang = read('bin/veroai.js').split('\n')[0]!;
    expect(shebang.startsWith('#!/usr/bin/env -S node ')).toBe(true);
    expect(flagsIn(shebang)).toEqual(STREAMING_NODE_FLAGS);
  });

  it('are given by the npm scripts that run the CLI (through its launcher, one process) or a bench (through tsx)', () => {
    const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>;
    // the CLI's scripts run the launcher in node itself: tsx's CLI would sit between npm and the job and relay
    // a Ctrl-C a second time when the job is busy (test/integration/lifecycle.test.ts, "npm start")
    for (const name of ['start', 'veroai']) expect(scripts[name], name).toMatch(/^node .*bin\/veroai\.js/);
    expect(scripts.bench).toMatch(/^tsx .*bench\/run\.ts/);
    for (const name of ['start', 'veroai', 'bench'])
      expect(flagsIn(scripts[name]!), name).toEqual(STREAMING_NODE_FLAGS);
  });

  it("are the image's entrypoint flags, and NODE_OPTIONS does not set them again", () => {
    const dockerfile = read('deploy/app.Dockerfile');
    const entrypoint = dockerfile.split('\n').find((line) => line.startsWith('ENTRYPOINT'))!;
    expect(flagsIn(entrypoint)).toEqual(STREAMING_NODE_FLAGS);
    const nodeOptions = dockerfile.split('\n').find((line) => line.includes('NODE_OPTIONS='))!;
    expect(flagsIn(nodeOptions)).toEqual([]);
  });
});

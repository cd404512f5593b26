#!/usr/bin/env -S node --max-semi-space-size=32 --no-allocation-site-pretenuring
// Runs the compiled CLI when it exists (npm run build), else the TypeScript source through tsx, with the
// garbage collector tuned for a stream processor (the shebang's flags: see cli/node-flags.ts).
// Signals are handled the one documented way (cli/lifecycle) from the first moment: until that module
// has loaded, a SIGINT/SIGTERM is only noted here, then handed to it. `run` and `demo` stop cleanly on
// the first signal from then on, also while the rest of their code is still loading.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const early = [];
const note = (signal) => early.push(signal);
process.on('SIGINT', note);
process.on('SIGTERM', note);

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli');
if (existsSync(join(compiled, 'main.js'))) {
  prepare(await import(pathToFileURL(join(compiled, 'lifecycle.js')).href));
  await import(pathToFileURL(join(compiled, 'main.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  prepare(await import(pathToFileURL(join(root, 'cli', 'lifecycle.ts')).href));
  await import(pathToFileURL(join(root, 'cli', 'main.ts')).href);
}

function prepare(lifecycle) {
  lifecycle.installSignalHandlers();
  process.off('SIGINT', note);
  process.off('SIGTERM', note);
  if (['run', 'demo'].includes(process.argv[2] ?? '')) lifecycle.cleanStopSignal();
  for (const signal of early.splice(0)) lifecycle.handleSignal(signal);
}

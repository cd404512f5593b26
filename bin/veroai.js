#!/usr/bin/env node
// Runs the compiled CLI when it exists (npm run build), else the TypeScript source through tsx.
// The process's SIGINT/SIGTERM handler (cli/lifecycle) goes in first, before the rest of the command
// loads: from the first moment, a signal is handled the one documented way.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli');
if (existsSync(join(compiled, 'main.js'))) {
  const { installSignalHandlers } = await import(pathToFileURL(join(compiled, 'lifecycle.js')).href);
  installSignalHandlers();
  await import(pathToFileURL(join(compiled, 'main.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { installSignalHandlers } = await import(pathToFileURL(join(root, 'cli', 'lifecycle.ts')).href);
  installSignalHandlers();
  await import(pathToFileURL(join(root, 'cli', 'main.ts')).href);
}

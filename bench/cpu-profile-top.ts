/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. `npm run bench --
 * session-count --cpu-prof <dir>`): the functions with the most self time,
 * and the self time per file, as one JSON document on stdout.
 *
 *   npx tsx bench/cpu-profile-top.ts <file.cpuprofile> [--top 30]
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}

interface Profile {
  readonly nodes: ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const where = (url: string) => {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const inModules = path.lastIndexOf('node_modules/');
  if (inModules >= 0) return path.slice(inModules + 'node_modules/'.length);
  return path.startsWith('node:') ? path : relative(process.cwd(), path);
};

const [file, ...rest] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: tsx bench/cpu-profile-top.ts <file.cpuprofile> [--top 30]\n');
  process.exit(2);
}
const top = Number(rest[rest.indexOf('--top') + 1] ?? 30) || 30;
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const totalUs = profile.endTime - profile.startTime;
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const name = `${functionName || '(anonymous)'} ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  byFile.set(where(url), (byFile.get(where(url)) ?? 0) + us);
}
const share = (us: number) => Number(((100 * us) / totalUs).toFixed(1));
const ranked = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: share(us) }));
console.log(
  JSON.stringify(
    { seconds: Number((totalUs / 1e6).toFixed(1)), functions: ranked(byFunction), files: ranked(byFile) },
    null,
    1,
  ),
);

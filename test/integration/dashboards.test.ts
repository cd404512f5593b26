import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAnthropic } from '../support/fake-anthropic.js';
import { freePort } from '../support/free-port.js';
import { ensurePrometheus, type RunningPrometheus, startPrometheus } from '../support/prometheus.js';
import { startPrivateRedis } from '../support/redis.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The main job whose metrics the dashboards must show: arguments to `node`,
 * run from the repository root with API_PORT, APPLICATION_ID, API_KEYS, a
 * private Redis and the memory transport set below.
 */
const MAIN_JOB = [join(root, 'bin', 'veroai.js'), 'demo'];

const APPLICATION_ID = `dashboards-test-${randomUUID().slice(0, 8)}`;
const ADMIN_KEY = `dashboards-admin-${randomUUID()}`;
const ACME_KEY = `dashboards-acme-${randomUUID()}`;
const SCRAPE_JOB = 'veroai-dashboards-test';
/** What `$__rate_interval` becomes: several 1 s scrapes, as Grafana makes it at least 4 scrape intervals. */
const RATE_INTERVAL = '15s';
/** Scrapes to wait for before querying, so that every rate window holds several samples. */
const SCRAPES_BEFORE_QUERYING = 12;
/**
 * How long to wait for the series a dashboard's variables list (e.g. a
 * canary rollout, which needs a KPI window closed on both of its tracks).
 */
const VARIABLES_RESOLVED_WITHIN_MS = 150_000;
/**
 * How long to wait for the security metrics of a whole incident: the demo's
 * first attack starts a minute in, its incident opens a window later and,
 * once the IP is blocked, resolves after 3 quiet 30 s windows.
 */
const INCIDENT_ENDED_WITHIN_MS = 300_000;
/** Metrics that have series only once an incident opened, was triaged and ended. */
const INCIDENT_METRICS = [
  'veroai_security_incidents_ended_total',
  'veroai_security_time_to_detect_seconds_bucket',
  'veroai_remediation_commands_total',
  'veroai_incident_triage_total',
];
/** How a panel names the dashboard's data-source variable (a Grafana placeholder, not a template string). */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');

interface Target {
  readonly refId: string;
  readonly expr: string;
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: Target[];
  readonly panels?: Panel[];
}
interface TemplateVariable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { query: string };
}
interface Dashboard {
  readonly title: string;
  readonly panels: Panel[];
  readonly templating: { list: TemplateVariable[] };
}

const dashboardsDir = join(root, 'dashboards');
const dashboards = readdirSync(dashboardsDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({
    file,
    dashboard: JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8')) as Dashboard,
  }));

/** Every panel, rows' nested panels included, without the rows themselves. */
function panelsOf(dashboard: Dashboard): Panel[] {
  const out: Panel[] = [];
  const visit = (panels: readonly Panel[]) => {
    for (const p of panels) {
      if (p.type !== 'row') out.push(p);
      if (p.panels !== undefined) visit(p.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

/** A `label_values(metric, label)` or `label_values(metric{selector}, label)` variable query, split. */
function labelValuesQuery(
  variable: TemplateVariable,
): { metric: string; selector: string; label: string } | undefined {
  const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
  const match = /^label_values\((\w+)(\{[^}]*\})?,\s*(\w+)\)$/.exec(query ?? '');
  if (match === null) return undefined;
  return { metric: match[1]!, selector: match[2] ?? '', label: match[3]! };
}

/** Replaces Grafana's `$var`, `${var}`, `${var:format}` and `[[var]]` with the values given; an unknown one is an error. */
function substitute(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (match, a, b, c) => {
    const name = (a ?? b ?? c) as string;
    const value = values[name];
    if (value === undefined) throw new Error(`unknown dashboard variable ${match} in: ${expr}`);
    return value;
  });
}

describe('Grafana dashboards over a running main job', () => {
  let app: ChildProcess | undefined;
  let appExited: Promise<void> | undefined;
  let appStderr = '';
  let prometheus: RunningPrometheus | undefined;
  let redis: { url: string; stop: () => Promise<void> } | undefined;
  const anthropic = new FakeAnthropic();
  let anthropicUrl = '';
  let apiUrl = '';
  let promtool = 'promtool';
  /** The job's RocksDB stores, deleted at the end. */
  const stateDir = mkdtempSync(join(tmpdir(), 'veroai-dashboards-state-'));
  /** The running job's own values of the variables every dashboard shares. */
  let jobVariables: Record<string, string> = {};
  /** Per dashboard: the job's values, then each other variable's first offered value, in the order declared. */
  const dashboardVariables = new Map<string, Record<string, string>>();

  /** The values a variable's label_values query offers, earlier variables substituted. */
  const offered = async (variable: TemplateVariable, values: Record<string, string>): Promise<string[]> => {
    const query = labelValuesQuery(variable)!;
    const series = await prometheus!.query(
      `count by (${query.label}) (${query.metric}${substitute(query.selector, values)})`,
    );
    return series.map((s) => s.metric[query.label]!).sort();
  };

  /** Gives each dashboard's variables a value; the names still without one (their series not there yet). */
  const resolveVariables = async (): Promise<string[]> => {
    const missing: string[] = [];
    for (const { file, dashboard } of dashboards) {
      const values: Record<string, string> = { ...jobVariables };
      for (const variable of dashboard.templating.list) {
        if (variable.type !== 'query' || variable.name in jobVariables) continue;
        if (labelValuesQuery(variable) === undefined) continue;
        const [first] = await offered(variable, values);
        if (first === undefined) {
          missing.push(`${file}: ${variable.name}`);
          break;
        }
        values[variable.name] = first;
      }
      dashboardVariables.set(file, values);
    }
    return missing;
  };

  const stopApp = async () => {
    if (app === undefined || app.exitCode !== null || app.signalCode !== null) return;
    app.kill('SIGTERM');
    const killed = setTimeout(() => app?.kill('SIGKILL'), 10_000);
    await appExited;
    clearTimeout(killed);
  };

  /** What a client does, right and wrong (no key, another tenant's entity, a bad body), so that every API metric has series. */
  const exerciseApi = async () => {
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const json = { 'content-type': 'application/json' };
    const requests: Array<[string, RequestInit?]> = [
      ['/health/ready'],
      ['/v1/features/user_activity/acme%2Fuser-0001', { headers: as(ADMIN_KEY) }],
      ['/v1/features/tenant_usage/acme', { headers: as(ACME_KEY) }],
      ['/v1/features/tenant_usage/globex', { headers: as(ACME_KEY) }],
      ['/v1/features/tenant_usage/acme'],
      [
        '/v1/features/batch',
        {
          method: 'POST',
          headers: { ...as(ADMIN_KEY), ...json },
          body: JSON.stringify({
            views: ['user_activity', 'tenant_usage'],
            entities: ['acme/user-0001', 'acme'],
          }),
        },
      ],
      ['/v1/features/batch', { method: 'POST', headers: { ...as(ADMIN_KEY), ...json }, body: '{}' }],
      ['/v1/sessions/acme/user-0001', { headers: as(ACME_KEY) }],
      ['/no/such/route'],
    ];
    for (const [path, init] of requests) await fetch(`${apiUrl}${path}`, init).then((r) => r.arrayBuffer());
  };

  beforeAll(
    async () => {
      try {
        const binary = ensurePrometheus();
        promtool = join(dirname(binary), 'promtool');
        // the job's own Redis: its feature and session keys never meet other suites'
        redis = await startPrivateRedis();
        // triage notes for the demo's incidents, from a recorded answer: the triage panel has data, nothing leaves the machine
        anthropicUrl = await anthropic.start();
        const port = await freePort();
        apiUrl = `http://127.0.0.1:${port}`;
        app = spawn(process.execPath, MAIN_JOB, {
          cwd: root,
          env: {
            ...process.env,
            APPLICATION_ID,
            API_KEYS: `${ADMIN_KEY}:*,${ACME_KEY}:acme`,
            REDIS_URL: redis.url,
            STATE_DIR: stateDir,
            TRANSPORT: 'memory',
            API_HOST: '127.0.0.1',
            API_PORT: String(port),
            LOG_LEVEL: 'warn',
            SAMPLE_EVENTS_PER_SECOND: '300',
            ANTHROPIC_API_KEY: 'sk-ant-dashboards-test',
            ANTHROPIC_BASE_URL: anthropicUrl,
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        app.stderr?.on('data', (chunk) => {
          appStderr = (appStderr + chunk).slice(-8_000);
        });
        const child = app;
        appExited = new Promise((resolve) => child.once('exit', () => resolve()));
        const readyBy = Date.now() + 60_000;
        for (;;) {
          if (app.exitCode !== null)
            throw new Error(`the main job exited with ${app.exitCode}:\n${appStderr}`);
          const ready = await fetch(`${apiUrl}/health/ready`).then(
            (r) => r.ok,
            () => false,
          );
          if (ready) break;
          if (Date.now() > readyBy) throw new Error(`the main job was not ready after 60 s:\n${appStderr}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        prometheus = await startPrometheus({
          binary,
          targets: [`127.0.0.1:${port}`],
          job: SCRAPE_JOB,
          scrapeIntervalSeconds: 1,
        });
        const scrapedBy = Date.now() + 60_000;
        for (;;) {
          await exerciseApi();
          await new Promise((r) => setTimeout(r, 1_000));
          const scrapes = await prometheus.query(`count_over_time(up{job="${SCRAPE_JOB}"}[1m])`);
          if (Number(scrapes[0]?.value[1] ?? 0) >= SCRAPES_BEFORE_QUERYING) break;
          if (Date.now() > scrapedBy) throw new Error('Prometheus did not scrape the main job for 60 s');
        }
        const up = await prometheus.query(`up{job="${SCRAPE_JOB}"}`);
        if (up[0]?.value[1] !== '1')
          throw new Error(`the main job's /metrics is down for Prometheus:\n${appStderr}`);
        jobVariables = {
          application: APPLICATION_ID,
          instance: `127.0.0.1:${port}`,
          job: SCRAPE_JOB,
          __rate_interval: RATE_INTERVAL,
          __interval: '1s',
          __range: '1m',
        };
        const resolvedBy = Date.now() + VARIABLES_RESOLVED_WITHIN_MS;
        for (;;) {
          const missing = await resolveVariables();
          if (missing.length === 0) break;
          if (Date.now() > resolvedBy)
            throw new Error(
              `dashboard variables offering no value after ${VARIABLES_RESOLVED_WITHIN_MS / 1000} s (their metrics have no series in the running job): ${missing.join(', ')}\n${appStderr}`,
            );
          await new Promise((r) => setTimeout(r, 2_000));
        }
        const endedBy = Date.now() + INCIDENT_ENDED_WITHIN_MS;
        for (;;) {
          const missing: string[] = [];
          // a rate, as the panels read them: it has a series once two scrapes saw the metric
          for (const metric of INCIDENT_METRICS)
            if (
              (await prometheus.query(`rate(${metric}{job="${SCRAPE_JOB}"}[${RATE_INTERVAL}])`)).length === 0
            )
              missing.push(metric);
          if (missing.length === 0) break;
          if (Date.now() > endedBy)
            throw new Error(
              `no series after ${INCIDENT_ENDED_WITHIN_MS / 1000} s for ${missing.join(', ')} (the demo's attack did not open, triage and end an incident)\n${appStderr}`,
            );
          await new Promise((r) => setTimeout(r, 2_000));
        }
      } catch (error) {
        await prometheus?.stop();
        await stopApp();
        await redis?.stop();
        await anthropic.stop();
        rmSync(stateDir, { recursive: true, force: true });
        throw error;
      }
    },
    150_000 + VARIABLES_RESOLVED_WITHIN_MS + INCIDENT_ENDED_WITHIN_MS,
  );

  afterAll(async () => {
    await prometheus?.stop();
    await stopApp();
    await redis?.stop();
    await anthropic.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }, 30_000);

  it('finds the dashboards', () => {
    expect(dashboards.map((d) => d.file)).toEqual(
      expect.arrayContaining([
        'canary.json',
        'features-api.json',
        'processors-overview.json',
        'security.json',
      ]),
    );
  });

  it.each(['prometheus.yml', 'prometheus.docker.yml'])(
    'deploy/prometheus/%s is a valid config scraping /metrics on port 8080',
    (file) => {
      const path = join(root, 'deploy', 'prometheus', file);
      const check = spawnSync(promtool, ['check', 'config', path], { encoding: 'utf8' });
      expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
      expect(readFileSync(path, 'utf8')).toMatch(/targets: \[['"][\w.]+:8080['"]\]/);
    },
  );

  it.each(dashboards)('$file: picks its Prometheus through the datasource variable', ({ dashboard }) => {
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const fixed = panelsOf(dashboard)
      .filter((p) => p.datasource?.uid !== DATASOURCE_VARIABLE)
      .map((p) => p.title);
    expect(fixed, `panels not using ${DATASOURCE_VARIABLE}`).toEqual([]);
  });

  it.each(dashboards)('$file: every template variable lists the running job', async ({ file, dashboard }) => {
    const values = dashboardVariables.get(file)!;
    const unresolved: string[] = [];
    for (const variable of dashboard.templating.list) {
      if (variable.type !== 'query') continue;
      if (labelValuesQuery(variable) === undefined) {
        unresolved.push(
          `${variable.name}: not a label_values(metric[{selector}], label) query: ${JSON.stringify(variable.query)}`,
        );
        continue;
      }
      const offers = await offered(variable, values);
      if (!offers.includes(values[variable.name]!)) {
        unresolved.push(`${variable.name}: offers [${offers.join(', ')}], not ${values[variable.name]}`);
      }
    }
    expect(unresolved, 'variables that do not offer the running job').toEqual([]);
  });

  it.each(dashboards)('$file: every panel query returns at least one series', async ({ file, dashboard }) => {
    const variables = dashboardVariables.get(file)!;
    const empty: string[] = [];
    let queried = 0;
    for (const panel of panelsOf(dashboard)) {
      for (const target of panel.targets ?? []) {
        const expr = substitute(target.expr, variables);
        queried += 1;
        try {
          const series = await prometheus!.query(expr);
          if (series.length === 0) empty.push(`"${panel.title}" ${target.refId}: no series for ${expr}`);
        } catch (error) {
          empty.push(`"${panel.title}" ${target.refId}: query failed (${(error as Error).message}): ${expr}`);
        }
      }
    }
    expect(queried, 'panel queries in the dashboard').toBeGreaterThan(0);
    expect(empty, `panels without data in ${dashboard.title}:\n${empty.join('\n')}`).toEqual([]);
  });
});

/**
 * The Argo Rollouts and Flagger manifests of deploy/k8s/ against the real
 * query API (fastify inject over a memory decision store) and the real
 * canary gauges: what each controller would request, and how it would read
 * the answer, for each verdict.
 *
 * - Argo web metrics: the request the template describes (URL, headers, body,
 *   arguments substituted as the Rollout passes them), its `jsonPath`
 *   evaluated on the response (jsonpath-plus), then `successCondition` and
 *   `failureCondition` as Argo combines them (utils/evaluate: Successful,
 *   Failed, Inconclusive; a non-2xx answer is an Error).
 * - Flagger: the MetricTemplates' series selectors against the series
 *   CanaryMetrics exports, the verdict threshold per verdict; the webhooks'
 *   curl commands run as requests (curl -f: success on a 2xx).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { JSONPath } from 'jsonpath-plus';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseApiKeys } from '../../../api/auth.js';
import type { CanaryCommandPublisher } from '../../../api/routes/canary.js';
import { buildApiServer } from '../../../api/server.js';
import { CanaryMetrics } from '../../../processors/canary/canary-metrics.js';
import type { CanaryCommand, CanaryVerdict, KpiWindow, RolloutStatus } from '../../../schemas/index.js';
import { MemoryCanaryDecisions } from '../../../sinks/memory/memory-sinks.js';
import { CANARY_T0, canaryDecision } from '../../support/canary-decision.js';
import { idleApp } from '../../support/idle-app.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const API_KEY = 'acme-deploy-key';
const CANARY_HASH = '6f7d9c8b5';
const STABLE_HASH = '5c4b8a7d6';
const VERDICTS: ReadonlyArray<{ verdict: CanaryVerdict; status: RolloutStatus }> = [
  { verdict: 'promote', status: 'promoted' },
  { verdict: 'hold', status: 'running' },
  { verdict: 'rollback', status: 'rolled_back' },
];

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes manifests are read as plain YAML data
type Manifest = Record<string, any>;

function manifests(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(root, 'deploy', 'k8s', path), 'utf8')).map((doc) => {
    expect(doc.errors, `${path}: YAML errors`).toEqual([]);
    return doc.toJS() as Manifest;
  });
}

function byKind(docs: Manifest[], kind: string, name: string): Manifest {
  const found = docs.find((d) => d['kind'] === kind && d['metadata']?.['name'] === name);
  if (found === undefined)
    throw new Error(`no ${kind} '${name}' in [${docs.map((d) => d['metadata']?.['name'])}]`);
  return found;
}

/** Replaces Argo's `{{args.name}}` (or Flagger's `{{ target }}`, `{{ variables.name }}`) with the values given. */
function substitute(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for ${match} in: ${text}`);
    return value;
  });
}

function substituteDeep(value: unknown, values: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') return substitute(value, values);
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, values));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, values)]));
  return value;
}

/** An Argo condition (expr-lang) of the forms the templates use, evaluated as Argo would on `result`. */
function evalCondition(condition: string, result: unknown): boolean {
  const allowed =
    /^(?:\s+|result(?:\.[A-Za-z_]\w*)*|"[^"\\]*"|'[^'\\]*'|==|!=|&&|\|\||!|\(|\)|true|false|\d+(?:\.\d+)?)+$/;
  if (!allowed.test(condition))
    throw new Error(`condition outside what this test evaluates (extend it with care): ${condition}`);
  const value = new Function('result', `"use strict"; return (${condition});`)(result) as unknown;
  if (typeof value !== 'boolean')
    throw new Error(`condition '${condition}' gave ${String(value)}, not a boolean`);
  return value;
}

type ArgoPhase = 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

/** Argo's utils/evaluate.EvaluateResult: a failure condition wins; neither condition true is Inconclusive. */
function argoPhase(metric: Manifest, result: unknown): ArgoPhase {
  const success = metric['successCondition'] as string | undefined;
  const failure = metric['failureCondition'] as string | undefined;
  let succeeded = success === undefined ? false : evalCondition(success, result);
  let failed = failure === undefined ? false : evalCondition(failure, result);
  if (success === undefined && failure === undefined) return 'Successful';
  if (failure === undefined) failed = !succeeded;
  if (success === undefined) succeeded = !failed;
  if (failed) return 'Failed';
  return succeeded ? 'Successful' : 'Inconclusive';
}

/** The web provider's measurement: the JSONPath's first value (Kubernetes form `{…}`, default `{$}`). */
function argoResult(metric: Manifest, body: unknown): unknown {
  const jsonPath = (metric['provider']['web']['jsonPath'] as string | undefined) ?? '{$}';
  const inner = /^\{(.*)\}$/.exec(jsonPath.trim())?.[1];
  if (inner === undefined) throw new Error(`jsonPath '${jsonPath}' is not of the Kubernetes form {…}`);
  const found = JSONPath({ path: inner, json: body as object, wrap: true }) as unknown[];
  if (found.length === 0) throw new Error(`jsonPath ${jsonPath} found nothing in ${JSON.stringify(body)}`);
  return found[0];
}

/** Splits a shell command as bash would for these commands: quotes, `${VAR}` in double quotes and bare words. */
function shellWords(command: string, env: Readonly<Record<string, string>>): string[] {
  const words: string[] = [];
  const expand = (text: string) =>
    text.replace(/\$\{(\w+)\}/g, (_m, name: string) => {
      const value = env[name];
      if (value === undefined) throw new Error(`the command uses \${${name}}, not given to it`);
      return value;
    });
  for (const [, single, double, bare] of command.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push(single ?? expand(double ?? bare!));
  }
  return words;
}

/** A `curl` command line as the request it sends; `-f` makes it fail on an HTTP error. */
function curlRequest(words: string[]): { request: InjectOptions; failsOnHttpError: boolean } {
  expect(words[0]).toBe('curl');
  const headers: Record<string, string> = {};
  let method = 'GET';
  let payload: string | undefined;
  let url: string | undefined;
  let failsOnHttpError = false;
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === '-X') method = words[++i]!;
    else if (word === '-H') {
      const header = words[++i]!;
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (word === '-d') {
      payload = words[++i]!;
      if (method === 'GET') method = 'POST';
    } else if (/^-[a-z]+$/.test(word)) failsOnHttpError ||= word.includes('f');
    else url = word;
  }
  if (url === undefined) throw new Error(`no URL in: ${words.join(' ')}`);
  const { pathname, search } = new URL(url);
  return {
    request: {
      method: method as InjectOptions['method'],
      url: pathname + search,
      headers,
      ...(payload === undefined ? {} : { payload }),
    },
    failsOnHttpError,
  };
}

class RecordingPublisher implements CanaryCommandPublisher {
  readonly published: CanaryCommand[] = [];
  async publish(command: CanaryCommand): Promise<void> {
    this.published.push(command);
  }
}

const logger = pino({ level: 'silent' });
const publisher = new RecordingPublisher();
let decisions: MemoryCanaryDecisions;
let server: FastifyInstance;

/** A server whose store holds one decision of `rolloutId` with the verdict given. */
async function holding(rolloutId: string, verdict: CanaryVerdict, status: RolloutStatus): Promise<void> {
  await decisions.write([
    canaryDecision(rolloutId, {
      verdict,
      status,
      // each a little later than the last: the latest is the one served
      decidedAt: CANARY_T0 + decisions.writes.length + 1,
      summary: `judged ${verdict}`,
    }),
  ]);
}

beforeAll(async () => {
  decisions = new MemoryCanaryDecisions();
  const app = idleApp('deploy-manifests-test');
  server = await buildApiServer({
    registry: app.registry,
    app,
    logger,
    apiKeys: parseApiKeys(`${API_KEY}:acme`),
    canaryDecisions: decisions,
    canaryCommands: publisher,
  });
});

afterAll(async () => {
  await server.close();
});

describe('Argo Rollouts: deploy/k8s/argo', () => {
  const templates = manifests('argo/analysis-template.yaml');
  const [rollout] = manifests('argo/rollout.yaml');
  const steps = (rollout!['spec']['strategy']['canary']['steps'] as Manifest[]).filter((s) => s['analysis']);

  /** The arguments of a template as the Rollout's step passes them (hashes as Argo resolves them) and the secret holds. */
  function argsFor(templateName: string): Record<string, string> {
    const template = byKind(templates, 'AnalysisTemplate', templateName);
    const step = steps.find((s) =>
      (s['analysis']['templates'] as Manifest[]).some((t) => t['templateName'] === templateName),
    );
    expect(step, `a Rollout step runs ${templateName}`).toBeDefined();
    const given = new Map<string, string>();
    for (const arg of step!['analysis']['args'] as Manifest[]) {
      const hash = arg['valueFrom']?.['podTemplateHashValue'] as string | undefined;
      if (hash !== undefined) {
        expect(['Latest', 'Stable']).toContain(hash);
        given.set(arg['name'], hash === 'Latest' ? CANARY_HASH : STABLE_HASH);
      } else given.set(arg['name'], String(arg['value']));
    }
    const values: Record<string, string> = {};
    for (const arg of template['spec']['args'] as Manifest[]) {
      const name = arg['name'] as string;
      const secret = arg['valueFrom']?.['secretKeyRef'];
      if (secret !== undefined) {
        expect(secret).toEqual({ name: 'veroai-api-key', key: 'api-key' });
        values[`args.${name}`] = API_KEY;
      } else if (given.has(name)) values[`args.${name}`] = given.get(name)!;
      else if (arg['value'] !== undefined) values[`args.${name}`] = String(arg['value']);
      else throw new Error(`${templateName} needs argument '${name}', which the Rollout does not pass`);
    }
    return values;
  }

  /** One measurement of a web metric against the API: the phase Argo gives it. */
  async function measure(
    templateName: string,
  ): Promise<{ phase: ArgoPhase; response: LightMyRequestResponse }> {
    const template = byKind(templates, 'AnalysisTemplate', templateName);
    const [metric] = template['spec']['metrics'] as Manifest[];
    const web = substituteDeep(metric!['provider']['web'], argsFor(templateName)) as Manifest;
    const { pathname, search } = new URL(web['url'] as string);
    const headers = Object.fromEntries(
      ((web['headers'] ?? []) as Array<{ key: string; value: string }>).map((h) => [
        h.key.toLowerCase(),
        h.value,
      ]),
    );
    const jsonBody = web['jsonBody'] as object | undefined;
    const response = await server.inject({
      method: ((web['method'] as string | undefined) ?? 'GET') as InjectOptions['method'],
      url: pathname + search,
      headers: jsonBody === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(jsonBody === undefined ? {} : { payload: JSON.stringify(jsonBody) }),
    });
    if (response.statusCode < 200 || response.statusCode >= 300) return { phase: 'Error', response };
    const evaluated = substituteDeep(metric, argsFor(templateName)) as Manifest;
    return { phase: argoPhase(evaluated, argoResult(evaluated, response.json())), response };
  }

  it('are an AnalysisTemplate pair and a Rollout whose analysis steps give every argument the templates need', () => {
    expect(templates.map((t) => [t['apiVersion'], t['kind'], t['metadata']['name']])).toEqual([
      ['argoproj.io/v1alpha1', 'AnalysisTemplate', 'veroai-canary-start'],
      ['argoproj.io/v1alpha1', 'AnalysisTemplate', 'veroai-canary-gate'],
    ]);
    expect(rollout).toMatchObject({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' });
    expect(rollout!['spec']['strategy']['canary']).toMatchObject({
      canaryMetadata: { labels: { track: 'canary' } },
      stableMetadata: { labels: { track: 'baseline' } },
    });
    for (const name of ['veroai-canary-start', 'veroai-canary-gate'])
      expect(() => argsFor(name)).not.toThrow();
    // the start comes before the gate reads the verdict
    const order = steps.map((s) => s['analysis']['templates'][0]['templateName']);
    expect(order).toEqual(['veroai-canary-start', 'veroai-canary-gate']);
  });

  it('veroai-canary-start: POSTs the rollout (canary hash against stable hash) and succeeds on the 202', async () => {
    publisher.published.length = 0;
    const { phase, response } = await measure('veroai-canary-start');
    expect(response.statusCode, response.body).toBe(202);
    expect(phase).toBe('Successful');
    expect(publisher.published).toHaveLength(1);
    expect(publisher.published[0]).toMatchObject({
      kind: 'start',
      rolloutId: `checkout-${CANARY_HASH}`,
      tenantId: 'acme',
      service: 'checkout',
      canaryVersion: CANARY_HASH,
      baselineVersion: STABLE_HASH,
      stableVersion: STABLE_HASH,
    });
  });

  it('veroai-canary-gate: promote is Successful, rollback Failed, hold Inconclusive, an unknown rollout an Error', async () => {
    const rolloutId = `checkout-${CANARY_HASH}`;
    expect((await measure('veroai-canary-gate')).phase).toBe('Error');
    const expected: Record<CanaryVerdict, ArgoPhase> = {
      promote: 'Successful',
      hold: 'Inconclusive',
      rollback: 'Failed',
    };
    for (const { verdict, status } of [VERDICTS[1]!, VERDICTS[0]!, VERDICTS[2]!]) {
      await holding(rolloutId, verdict, status);
      const { phase, response } = await measure('veroai-canary-gate');
      expect(response.json()).toMatchObject({ rollout_id: rolloutId, verdict });
      expect(phase, `verdict ${verdict}`).toBe(expected[verdict]);
    }
  });

  it('veroai-canary-gate: a hold can last as long as the analysis, a single rollback aborts', () => {
    const [metric] = byKind(templates, 'AnalysisTemplate', 'veroai-canary-gate')['spec'][
      'metrics'
    ] as Manifest[];
    expect(metric!['failureLimit']).toBe(0);
    expect(metric!['inconclusiveLimit']).toBe((metric!['count'] as number) - 1);
  });
});

describe('Flagger: deploy/k8s/flagger', () => {
  const metricTemplates = manifests('flagger/metric-template.yaml');
  const [canary] = manifests('flagger/canary.yaml');
  const analysis = canary!['spec']['analysis'] as Manifest;
  const target = canary!['spec']['targetRef']['name'] as string;

  /** The series CanaryMetrics exports for the canary's builds and a decision of its rollout, as Prometheus scrapes them. */
  async function exportedSeries(
    verdict: CanaryVerdict,
  ): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>> {
    const registry = new Registry();
    const metrics = new CanaryMetrics(registry);
    const window = (version: string, track: KpiWindow['track'], errors: number): KpiWindow => ({
      tenantId: 'acme',
      service: target,
      version,
      track,
      windowStart: CANARY_T0,
      windowEnd: CANARY_T0 + 60_000,
      requests: 1_000,
      errors,
      latencyP50Ms: 20,
      latencyP90Ms: 45,
      latencyP99Ms: 90,
      latencySketch: Buffer.alloc(0),
      latencySamples: [],
      latencyCount: 1_000,
    });
    metrics.windowClosed(window(target, 'canary', 30));
    metrics.windowClosed(window(`${target}-primary`, 'baseline', 10));
    metrics.decided(canaryDecision(target, { service: target, verdict, status: 'running' }));
    const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
    for (const metric of await registry.getMetricsAsJSON())
      for (const v of metric.values)
        out.push({ name: metric.name, labels: v.labels as Record<string, string>, value: v.value });
    return out;
  }

  /** Each `metric{label="value", …}` selector of a PromQL query. */
  function selectors(query: string): Array<{ name: string; labels: Record<string, string> }> {
    return [...query.matchAll(/(veroai_\w+)\{([^}]*)\}/g)].map(([, name, body]) => ({
      name: name!,
      labels: Object.fromEntries(
        [...body!.matchAll(/(\w+)\s*=\s*"([^"]*)"/g)].map(([, label, value]) => [label!, value!]),
      ),
    }));
  }

  function query(metricName: string): { template: Manifest; text: string; range: Manifest } {
    const metric = (analysis['metrics'] as Manifest[]).find((m) => m['name'] === metricName)!;
    const template = byKind(metricTemplates, 'MetricTemplate', metric['templateRef']['name']);
    const variables = Object.fromEntries(
      Object.entries((metric['templateVariables'] ?? {}) as Record<string, string>).map(([k, v]) => [
        `variables.${k}`,
        v,
      ]),
    );
    const text = substitute(template['spec']['query'] as string, {
      target,
      namespace: 'test',
      interval: '1m',
      ...variables,
    });
    return { template, text, range: metric['thresholdRange'] as Manifest };
  }

  it("are MetricTemplates on Prometheus, each used by the Canary's analysis", () => {
    expect(metricTemplates.map((t) => [t['apiVersion'], t['kind'], t['spec']['provider']['type']])).toEqual(
      metricTemplates.map(() => ['flagger.app/v1beta1', 'MetricTemplate', 'prometheus']),
    );
    expect(canary).toMatchObject({ apiVersion: 'flagger.app/v1beta1', kind: 'Canary' });
    const used = (analysis['metrics'] as Manifest[]).map((m) => m['templateRef']['name']).sort();
    expect(used).toEqual(metricTemplates.map((t) => t['metadata']['name']).sort());
  });

  it('select only series the canary gate exports (metric names and labels)', async () => {
    const series = await exportedSeries('hold');
    for (const metric of analysis['metrics'] as Manifest[]) {
      const { text } = query(metric['name']);
      const found = selectors(text);
      expect(found.length, `${metric['name']}: selectors in ${text}`).toBeGreaterThan(0);
      for (const selector of found) {
        const matching = series.filter(
          (s) =>
            s.name === selector.name &&
            Object.entries(selector.labels).every(([label, value]) => s.labels[label] === value),
        );
        expect(
          matching,
          `${metric['name']}: ${JSON.stringify(selector)} matches no exported series`,
        ).toHaveLength(1);
      }
    }
  });

  it('veroai-verdict: fails a check on a rollback verdict, passes hold and promote', async () => {
    const { text, range } = query('veroai-verdict');
    const [selector] = selectors(text);
    for (const { verdict } of VERDICTS) {
      const value = (await exportedSeries(verdict)).find(
        (s) =>
          s.name === selector!.name && Object.entries(selector!.labels).every(([l, v]) => s.labels[l] === v),
      )!.value;
      const passes = value >= (range['min'] ?? -Infinity) && value <= (range['max'] ?? Infinity);
      expect(passes, `verdict ${verdict} (gauge ${value})`).toBe(verdict !== 'rollback');
    }
  });

  describe('webhooks, as flagger-loadtester runs them', () => {
    const env = { VEROAI_API: 'http://veroai-api.veroai:8080', VEROAI_API_KEY: API_KEY };
    const hook = (type: string) => {
      const found = (analysis['webhooks'] as Manifest[]).find((w) => w['type'] === type);
      expect(found?.['metadata']?.['type'], `${type} webhook through the loadtester's bash`).toBe('bash');
      return curlRequest(shellWords(found!['metadata']['cmd'] as string, env));
    };
    const succeeds = (response: LightMyRequestResponse) =>
      response.statusCode >= 200 && response.statusCode < 300;

    it('pre-rollout: starts the rollout named after the target, canary against its primary', async () => {
      publisher.published.length = 0;
      const { request, failsOnHttpError } = hook('pre-rollout');
      expect(failsOnHttpError).toBe(true);
      const response = await server.inject(request);
      expect(succeeds(response), response.body).toBe(true);
      expect(publisher.published).toMatchObject([
        {
          kind: 'start',
          rolloutId: target,
          tenantId: 'acme',
          service: target,
          canaryVersion: target,
          baselineVersion: `${target}-primary`,
        },
      ]);
    });

    it('confirm-promotion: succeeds only once the verdict is promote', async () => {
      const { request, failsOnHttpError } = hook('confirm-promotion');
      expect(failsOnHttpError).toBe(true);
      expect(succeeds(await server.inject(request))).toBe(false);
      for (const { verdict, status } of VERDICTS) {
        await holding(target, verdict, status);
        const response = await server.inject(request);
        expect(succeeds(response), `verdict ${verdict}: ${response.body}`).toBe(verdict === 'promote');
      }
    });
  });
});

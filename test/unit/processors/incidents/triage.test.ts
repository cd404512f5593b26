import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClaudeTriage,
  DEFAULT_TRIAGE_MAX_TOKENS,
  DEFAULT_TRIAGE_MODEL,
  type IncidentTriage,
  MAX_TRIAGE_NOTE_CHARS,
  TRIAGE_SYSTEM_PROMPT,
  type TriageLogger,
  type TriageNoteStore,
  TriageQueue,
  triageFromEnv,
} from '../../../../processors/incidents/triage/index.js';
import type { SecurityIncident } from '../../../../schemas/index.js';
import { FakeAnthropic, failWith, recorded, recordedText } from '../../../support/fake-anthropic.js';

const API_KEY = 'sk-ant-test-key';

/**
 * The API key a request carried. @anthropic-ai/sdk 1.x (API version
 * 2026-10-21) sends it as `Authorization: Bearer <key>`; 0.x sent `x-api-key`.
 */
function apiKeyOf(headers: IncomingMessage['headers']): string | undefined {
  const header = headers['x-api-key'];
  if (typeof header === 'string') return header;
  return /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
}

function incident(overrides: Partial<SecurityIncident> = {}): SecurityIncident {
  return {
    incidentId: 'dXNlci9hY21lL3UtNDI.credential_stuffing.1767225600000',
    kind: 'credential_stuffing',
    entityKind: 'user',
    entityId: 'u-42',
    tenantId: 'acme',
    severity: 'high',
    status: 'open',
    confidence: 0.9312,
    firstSeenAt: 1_767_225_300_000,
    detectedAt: 1_767_225_600_000,
    updatedAt: 1_767_225_600_000,
    resolvedAt: null,
    resolution: null,
    anomalousWindows: 3,
    topFeatures: [
      { name: 'failed_logins', value: 152, baseline: 4, score: 0.99 },
      { name: 'distinct_ips', value: 37, baseline: 1.5, score: 0.97 },
    ],
    sampleEventIds: ['evt-1', 'evt-2'],
    summary: 'u-42: 152 failed logins from 37 IPs in 3 windows (usual 4)',
    remediation: {
      commandId: 'dXNlci9hY21lL3UtNDI.credential_stuffing.1767225600000/revoke_user_sessions',
      action: 'revoke_user_sessions',
      status: 'applied',
      issuedAt: 1_767_225_601_000,
      expiresAt: 1_767_229_201_000,
    },
    ...overrides,
  };
}

/** Another tenant's incident: none of its data may reach a request about the first. */
const otherTenants = incident({
  incidentId: 'dXNlci9nbG9iZXgvYm9iLTc.scraping.1767225900000',
  kind: 'scraping',
  entityId: 'bob-7',
  tenantId: 'globex',
  topFeatures: [{ name: 'pages_per_minute', value: 913, baseline: 12, score: 0.98 }],
  summary: 'bob-7 of globex read 913 pages a minute',
  remediation: null,
});

/** An in-memory TriageNoteStore (the real one is in sinks/redis). */
class MemoryNoteStore implements TriageNoteStore {
  readonly notes = new Map<string, string>();
  failure: Error | undefined;
  private waiters: Array<() => void> = [];

  async setTriageNote(incidentId: string, note: string): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.notes.set(incidentId, note);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once a note for `incidentId` is stored. */
  async stored(incidentId: string): Promise<string> {
    while (!this.notes.has(incidentId)) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.notes.get(incidentId)!;
  }
}

class RecordingLogger implements TriageLogger {
  readonly lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  warn(obj: object, msg: string): void {
    this.lines.push({ obj: obj as Record<string, unknown>, msg });
  }
}

/** A bounded wait: the promise, or a failure after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let api: FakeAnthropic;
let baseURL: string;
let store: MemoryNoteStore;
let logger: RecordingLogger;
const queues: TriageQueue[] = [];

beforeEach(async () => {
  api = new FakeAnthropic();
  baseURL = await api.start();
  store = new MemoryNoteStore();
  logger = new RecordingLogger();
});

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.close()));
  await api.stop();
});

function queue(
  options: { timeoutMs?: number; capacity?: number; concurrency?: number; registry?: Registry } = {},
) {
  const q = new TriageQueue({
    triage: new ClaudeTriage({ apiKey: API_KEY, baseURL, timeoutMs: options.timeoutMs ?? 5_000 }),
    store,
    logger,
    ...options,
  });
  queues.push(q);
  return q;
}

describe('ClaudeTriage', () => {
  it('sends one incident as compact JSON evidence to POST /v1/messages and returns the recorded note', async () => {
    const triage = new ClaudeTriage({ apiKey: API_KEY, baseURL });
    const subject = incident();

    const note = await triage.note(subject);

    expect(note).toBe(recordedText.trim());
    expect(api.received).toHaveLength(1);
    const req = api.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/messages');
    expect(apiKeyOf(req.headers)).toBe(API_KEY);
    expect(req.headers['anthropic-version']).toBeTruthy();
    const body = JSON.parse(req.body) as {
      model: string;
      max_tokens: number;
      system: string;
      messages: Array<{ role: string; content: string }>;
    };
    expect(body.model).toBe(DEFAULT_TRIAGE_MODEL);
    expect(body.max_tokens).toBe(DEFAULT_TRIAGE_MAX_TOKENS);
    expect(body.system).toBe(TRIAGE_SYSTEM_PROMPT);
    expect(body.messages).toHaveLength(1);
    expect(body.messages[0]!.role).toBe('user');
    const evidence = JSON.parse(body.messages[0]!.content);
    expect(evidence).toMatchObject({
      incidentId: subject.incidentId,
      kind: 'credential_stuffing',
      entity: { kind: 'user', id: 'u-42', tenantId: 'acme' },
      severity: 'high',
      confidence: 0.931,
      topFeatures: [
        { name: 'failed_logins', value: 152, baseline: 4, score: 0.99 },
        { name: 'distinct_ips', value: 37, baseline: 1.5, score: 0.97 },
      ],
      remediation: { action: 'revoke_user_sessions', status: 'applied' },
      summary: subject.summary,
    });
    // compact: one line, no indentation
    expect(body.messages[0]!.content).not.toContain('\n');
  });

  it('uses the model and token limit it is given, and caps a long note at 1,000 characters', async () => {
    const long = 'x'.repeat(700);
    api.reply = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ...recorded,
          content: [
            { type: 'text', text: `  ${long}` },
            { type: 'text', text: long },
          ],
          stop_reason: 'max_tokens',
        }),
      );
    };
    const triage = new ClaudeTriage({ apiKey: API_KEY, baseURL, model: 'claude-haiku-4-5', maxTokens: 120 });

    const note = await triage.note(incident());

    expect(note).toBe('x'.repeat(MAX_TRIAGE_NOTE_CHARS));
    const body = JSON.parse(api.received[0]!.body) as { model: string; max_tokens: number };
    expect(body).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 120 });
  });
});

describe('TriageQueue', () => {
  it('stores the note of a newly opened incident, and each request carries only its own incident', async () => {
    const q = queue({ concurrency: 1 });

    expect(q.offer(incident())).toBe('queued');
    expect(q.offer(otherTenants)).toBe('queued');

    expect(await within(store.stored(incident().incidentId), 5_000, 'first note')).toBe(recordedText.trim());
    expect(await within(store.stored(otherTenants.incidentId), 5_000, 'second note')).toBe(
      recordedText.trim(),
    );
    expect(q.counts).toEqual({ queued: 2, noted: 2, failed: 0, dropped: 0 });
    expect(api.received).toHaveLength(2);
    const [first, second] = api.received.map((r) => r.body);
    expect(first).toContain(incident().incidentId);
    for (const foreign of [
      otherTenants.incidentId,
      'globex',
      'bob-7',
      'pages_per_minute',
      otherTenants.summary,
    ]) {
      expect(first).not.toContain(foreign);
    }
    expect(second).toContain(otherTenants.incidentId);
    for (const foreign of [incident().incidentId, 'acme', 'u-42', 'failed_logins', incident().summary]) {
      expect(second).not.toContain(foreign);
    }
    expect(logger.lines).toEqual([]);
  });

  it('offer returns at once while the model has not answered', async () => {
    api.hold();
    const q = queue();

    const offered = q.offer(incident());

    expect(offered).toBe('queued');
    expect(q.counts).toEqual({ queued: 1, noted: 0, failed: 0, dropped: 0 });
    await within(api.requests(1), 5_000, 'request');
    expect(store.notes.size).toBe(0);
    api.release();
    await within(store.stored(incident().incidentId), 5_000, 'note');
    expect(q.counts.noted).toBe(1);
  });

  it('notes an incident once: a second offer of its id, or a resolved incident, is not queued', async () => {
    const q = queue();

    expect(q.offer(incident())).toBe('queued');
    expect(q.offer(incident({ updatedAt: incident().updatedAt + 60_000, anomalousWindows: 4 }))).toBe(
      'ignored',
    );
    expect(q.offer(incident({ status: 'auto_resolved' }))).toBe('ignored');
    expect(q.offer(otherTenants)).toBe('queued');
    expect(q.offer(otherTenants)).toBe('ignored');
    expect(q.offer(incident({ incidentId: 'x.error_storm.1', kind: 'error_storm', status: 'closed' }))).toBe(
      'ignored',
    );

    await within(q.whenIdle(), 5_000, 'idle');
    expect(api.received).toHaveLength(2);
    expect(q.counts).toEqual({ queued: 2, noted: 2, failed: 0, dropped: 0 });
  });

  it('a slow model past the timeout is counted failed: nothing stored, nothing thrown', async () => {
    api.hold();
    const q = queue({ timeoutMs: 200 });

    expect(q.offer(incident())).toBe('queued');
    await within(q.whenIdle(), 5_000, 'idle');

    expect(q.counts).toEqual({ queued: 1, noted: 0, failed: 1, dropped: 0 });
    expect(store.notes.size).toBe(0);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.msg).toBe('incident triage note failed');
    expect(logger.lines[0]!.obj).toMatchObject({ incidentId: incident().incidentId });
    expect(String(logger.lines[0]!.obj['reason'])).toMatch(/timed? ?out/);
  });

  it('the queue bounds a call even when the triage ignores its signal', async () => {
    const hangs: IncidentTriage = { note: () => new Promise<string>(() => {}) };
    const q = new TriageQueue({ triage: hangs, store, logger, timeoutMs: 50 });
    queues.push(q);

    q.offer(incident());
    await within(q.whenIdle(), 5_000, 'idle');

    expect(q.counts.failed).toBe(1);
    expect(logger.lines[0]!.obj['reason']).toBe('timeout');
  });

  it.each([
    [500, 'api_error'],
    [429, 'rate_limit_error'],
  ])('an HTTP %i is counted failed after the one retry', async (status, type) => {
    api.reply = failWith(status, type);
    const q = queue();

    q.offer(incident());
    await within(q.whenIdle(), 5_000, 'idle');

    expect(q.counts).toEqual({ queued: 1, noted: 0, failed: 1, dropped: 0 });
    expect(api.received).toHaveLength(2); // maxRetries: 1
    expect(store.notes.size).toBe(0);
    expect(logger.lines).toHaveLength(1);
    expect(String(logger.lines[0]!.obj['reason'])).toMatch(new RegExp(`^http ${status}`));
  });

  it('a store error is counted failed and logged, never thrown', async () => {
    store.failure = new Error('redis down');
    const q = queue();

    q.offer(incident());
    await within(q.whenIdle(), 5_000, 'idle');

    expect(q.counts).toEqual({ queued: 1, noted: 0, failed: 1, dropped: 0 });
    expect(logger.lines[0]!.obj['reason']).toBe('redis down');
  });

  it('drops an offer when the queue is full, and counts it', async () => {
    api.hold();
    const registry = new Registry();
    const q = queue({ capacity: 1, concurrency: 1, registry });

    expect(q.offer(incident())).toBe('queued'); // running
    await within(api.requests(1), 5_000, 'first request');
    expect(q.offer(otherTenants)).toBe('queued'); // waiting
    expect(q.offer(incident({ incidentId: 'dGVuYW50L2luaXRlY2g.error_storm.1', tenantId: 'initech' }))).toBe(
      'dropped',
    );

    expect(q.counts).toEqual({ queued: 2, noted: 0, failed: 0, dropped: 1 });
    api.release();
    await within(store.stored(incident().incidentId), 5_000, 'first note');
    await within(api.requests(2), 5_000, 'second request');
    api.release();
    await within(q.whenIdle(), 5_000, 'idle');
    expect(q.counts).toEqual({ queued: 2, noted: 2, failed: 0, dropped: 1 });

    const values = (await registry.getSingleMetric('veroai_incident_triage_total')!.get()).values;
    const byOutcome = Object.fromEntries(values.map((v) => [v.labels['outcome'], v.value]));
    expect(byOutcome).toEqual({ noted: 2, failed: 0, dropped: 1 });
  });

  it('close() aborts a hanging call and resolves promptly', async () => {
    api.hold();
    const q = queue({ timeoutMs: 60_000, concurrency: 1 });
    q.offer(incident());
    q.offer(otherTenants);
    await within(api.requests(1), 5_000, 'request');

    await within(q.close(), 1_000, 'close');

    expect(q.counts).toEqual({ queued: 2, noted: 0, failed: 1, dropped: 1 });
    expect(store.notes.size).toBe(0);
    expect(logger.lines.map((l) => l.obj['reason'] ?? l.obj['discarded'])).toEqual(
      expect.arrayContaining(['closed', 1]),
    );
    expect(q.offer(incident({ incidentId: 'aXAvMTAuMC4wLjE.scraping.1' }))).toBe('dropped');
    expect(api.received).toHaveLength(1);
  });
});

describe('triageFromEnv', () => {
  it('is off without ANTHROPIC_API_KEY', () => {
    expect(triageFromEnv({}, { store, logger })).toBeUndefined();
    expect(triageFromEnv({ ANTHROPIC_API_KEY: ' ' }, { store, logger })).toBeUndefined();
  });

  it('builds a queue over Claude from ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and TRIAGE_MODEL', async () => {
    const q = triageFromEnv(
      { ANTHROPIC_API_KEY: API_KEY, ANTHROPIC_BASE_URL: baseURL, TRIAGE_MODEL: 'claude-opus-4-6' },
      { store, logger },
    );
    expect(q).toBeInstanceOf(TriageQueue);
    queues.push(q!);

    q!.offer(incident());
    await within(store.stored(incident().incidentId), 5_000, 'note');

    expect(apiKeyOf(api.received[0]!.headers)).toBe(API_KEY);
    expect(JSON.parse(api.received[0]!.body)).toMatchObject({ model: 'claude-opus-4-6' });
  });

  it('takes a pino logger', () => {
    const log: TriageLogger = pino({ enabled: false });
    expect(triageFromEnv({}, { store, logger: log })).toBeUndefined();
  });
});

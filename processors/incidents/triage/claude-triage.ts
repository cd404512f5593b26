import Anthropic from '@anthropic-ai/sdk';
import type { SecurityIncident } from '../../../schemas/index.js';
import type { IncidentTriage } from './incident-triage.js';

/**
 * The default model: a current Sonnet in @anthropic-ai/sdk's `Model` type
 * (claude-sonnet-4-5 works too, but the SDK lists it as deprecated and warns
 * on every call).
 */
export const DEFAULT_TRIAGE_MODEL = 'claude-sonnet-4-6';
export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
export const DEFAULT_TRIAGE_TIMEOUT_MS = 10_000;
export const DEFAULT_TRIAGE_MAX_TOKENS = 300;
/** The longest note kept, in characters. */
export const MAX_TRIAGE_NOTE_CHARS = 1_000;

export const TRIAGE_SYSTEM_PROMPT = [
  'You are a security operations (SOC) analyst writing a triage note for one incident detected by an anomaly engine in a multi-tenant SaaS.',
  'The user message is the incident evidence as JSON: each top feature has its observed value, the entity baseline for that hour (null while the baseline warms up) and an anomaly score in [0, 1].',
  'Write at most 5 short lines of plain text: what happened, the likely cause, and what to check next.',
  'No markdown headings, no preamble, no greeting. Do not invent facts that are not in the evidence; say when the evidence is thin.',
].join('\n');

export interface ClaudeTriageOptions {
  readonly apiKey: string;
  /** Defaults to https://api.anthropic.com (the environment is read by `triageFromEnv`, not here). */
  readonly baseURL?: string;
  /** Defaults to DEFAULT_TRIAGE_MODEL. */
  readonly model?: string;
  /** The bound on one note, retry included; defaults to 10 s. */
  readonly timeoutMs?: number;
  /** Defaults to 300. */
  readonly maxTokens?: number;
}

/** What the model is shown of one incident: its own evidence, nothing of any other incident or tenant. */
export function triageEvidence(incident: SecurityIncident): Record<string, unknown> {
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    incidentId: incident.incidentId,
    kind: incident.kind,
    entity: { kind: incident.entityKind, id: incident.entityId, tenantId: incident.tenantId },
    severity: incident.severity,
    confidence: round(incident.confidence),
    status: incident.status,
    firstSeenAt: new Date(incident.firstSeenAt).toISOString(),
    detectedAt: new Date(incident.detectedAt).toISOString(),
    anomalousWindows: incident.anomalousWindows,
    topFeatures: incident.topFeatures.map((f) => ({
      name: f.name,
      value: round(f.value),
      baseline: f.baseline === null ? null : round(f.baseline),
      score: round(f.score),
    })),
    remediation:
      incident.remediation === null
        ? null
        : { action: incident.remediation.action, status: incident.remediation.status },
    summary: incident.summary,
  };
}

/** A triage note written by Claude through the Messages API. */
export class ClaudeTriage implements IncidentTriage {
  readonly model: string;
  private readonly client: Anthropic;
  private readonly timeoutMs: number;
  private readonly maxTokens: number;

  constructor(options: ClaudeTriageOptions) {
    this.model = options.model ?? DEFAULT_TRIAGE_MODEL;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TRIAGE_TIMEOUT_MS;
    this.maxTokens = options.maxTokens ?? DEFAULT_TRIAGE_MAX_TOKENS;
    this.client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? DEFAULT_ANTHROPIC_BASE_URL,
      timeout: this.timeoutMs,
      maxRetries: 1,
    });
  }

  /** The note, trimmed and at most 1,000 characters; rejects on an HTTP error, a timeout or an abort. */
  async note(incident: SecurityIncident, signal?: AbortSignal): Promise<string> {
    // The SDK's timeout bounds each attempt; this bounds the call, its one retry included.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    let message: Anthropic.Message;
    try {
      message = await this.client.messages.create(
        {
          model: this.model,
          max_tokens: this.maxTokens,
          system: TRIAGE_SYSTEM_PROMPT,
          messages: [{ role: 'user', content: JSON.stringify(triageEvidence(incident)) }],
        },
        { signal: signal === undefined ? deadline : AbortSignal.any([signal, deadline]) },
      );
    } catch (err) {
      if (deadline.aborted && signal?.aborted !== true) {
        throw new Error(`triage timed out after ${this.timeoutMs} ms`, { cause: err });
      }
      throw err;
    }
    const text = message.content
      .flatMap((block) => (block.type === 'text' ? [block.text] : []))
      .join('')
      .trim();
    return text.length > MAX_TRIAGE_NOTE_CHARS ? text.slice(0, MAX_TRIAGE_NOTE_CHARS).trimEnd() : text;
  }
}

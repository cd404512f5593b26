import type { Registry } from 'prom-client';
import { ClaudeTriage } from './claude-triage.js';
import type { TriageNoteStore } from './triage-note-store.js';
import { type TriageLogger, TriageQueue } from './triage-queue.js';

export {
  ClaudeTriage,
  type ClaudeTriageOptions,
  DEFAULT_ANTHROPIC_BASE_URL,
  DEFAULT_TRIAGE_MAX_TOKENS,
  DEFAULT_TRIAGE_MODEL,
  DEFAULT_TRIAGE_TIMEOUT_MS,
  MAX_TRIAGE_NOTE_CHARS,
  TRIAGE_SYSTEM_PROMPT,
  triageEvidence,
} from './claude-triage.js';
export type { IncidentTriage } from './incident-triage.js';
export type { TriageNoteStore } from './triage-note-store.js';
export {
  TRIAGE_OUTCOMES,
  type TriageCounts,
  type TriageLogger,
  type TriageOffer,
  TriageQueue,
  type TriageQueueOptions,
} from './triage-queue.js';

export interface TriageDeps {
  readonly store: TriageNoteStore;
  readonly logger: TriageLogger;
  readonly registry?: Registry;
}

/**
 * The triage queue when `ANTHROPIC_API_KEY` is set (with `ANTHROPIC_BASE_URL`
 * and `TRIAGE_MODEL` optional), else undefined: triage notes are optional.
 */
export function triageFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  deps: TriageDeps,
): TriageQueue | undefined {
  const apiKey = env['ANTHROPIC_API_KEY']?.trim();
  if (apiKey === undefined || apiKey === '') return undefined;
  const baseURL = env['ANTHROPIC_BASE_URL']?.trim() || undefined;
  const model = env['TRIAGE_MODEL']?.trim() || undefined;
  return new TriageQueue({
    triage: new ClaudeTriage({ apiKey, baseURL, model }),
    store: deps.store,
    logger: deps.logger,
    registry: deps.registry,
  });
}

import { Counter, type Registry } from 'prom-client';
import type { SecurityIncident } from '../../../schemas/index.js';
import type { IncidentTriage } from './incident-triage.js';
import type { TriageNoteStore } from './triage-note-store.js';

/** The part of a pino logger the queue uses: one warn line per failure. */
export interface TriageLogger {
  warn(obj: object, msg: string): void;
}

export interface TriageQueueOptions {
  readonly triage: IncidentTriage;
  readonly store: TriageNoteStore;
  readonly logger: TriageLogger;
  /** Incidents waiting for a call; an offer beyond it is dropped. Default 100. */
  readonly capacity?: number;
  /** Calls at once, 1 or 2. Default 2. */
  readonly concurrency?: number;
  /** The bound on one incident's note and store write together (a backstop: ClaudeTriage bounds its call itself). Default 15 s. */
  readonly timeoutMs?: number;
  /** Incident ids remembered as seen (oldest forgotten first). Default 10,000. */
  readonly rememberIds?: number;
  /** When given, `veroai_incident_triage_total{outcome="noted|failed|dropped"}` is registered there. */
  readonly registry?: Registry;
}

export interface TriageCounts {
  /** Incidents accepted into the queue. */
  readonly queued: number;
  /** Notes written and stored. */
  readonly noted: number;
  /** Calls or store writes that failed (HTTP error, timeout, store error, aborted by close). */
  readonly failed: number;
  /** Offers refused because the queue was full or closed, and queued incidents discarded by close. */
  readonly dropped: number;
}

/** What `offer` did with an incident. */
export type TriageOffer = 'queued' | 'ignored' | 'dropped';

export const TRIAGE_OUTCOMES = ['noted', 'failed', 'dropped'] as const;
type TriageOutcome = (typeof TRIAGE_OUTCOMES)[number];

const DEFAULT_CAPACITY = 100;
const DEFAULT_CONCURRENCY = 2;
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_REMEMBER_IDS = 10_000;

class TriageTimeout extends Error {
  constructor(ms: number) {
    super(`triage timed out after ${ms} ms`);
  }
}

class TriageClosed extends Error {
  constructor() {
    super('triage queue closed');
  }
}

/**
 * Triage notes off the processing path. `offer` never waits for the model:
 * an incident seen for the first time while open is queued (bounded; a full
 * queue drops the offer), one or two calls run at once, each bounded by the
 * timeout, and the note goes to the store. A failure is counted and logged
 * as one warn line, never thrown to the caller.
 */
export class TriageQueue {
  private readonly triage: IncidentTriage;
  private readonly store: TriageNoteStore;
  private readonly logger: TriageLogger;
  private readonly capacity: number;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly rememberIds: number;
  private readonly metric: Counter<'outcome'> | undefined;
  private readonly pending: SecurityIncident[] = [];
  /** Incident ids offered before, oldest first. */
  private readonly seen = new Set<string>();
  private readonly running = new Map<AbortController, Promise<void>>();
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private readonly count = { queued: 0, noted: 0, failed: 0, dropped: 0 };

  constructor(options: TriageQueueOptions) {
    this.triage = options.triage;
    this.store = options.store;
    this.logger = options.logger;
    this.capacity = Math.max(0, Math.floor(options.capacity ?? DEFAULT_CAPACITY));
    this.concurrency = Math.min(2, Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY)));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.rememberIds = Math.max(1, Math.floor(options.rememberIds ?? DEFAULT_REMEMBER_IDS));
    if (options.registry !== undefined) {
      const registry = options.registry;
      const name = 'veroai_incident_triage_total';
      this.metric =
        (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
        new Counter({
          name,
          help: 'Incident triage notes by outcome: noted, failed (HTTP error, timeout, store error), dropped (queue full)',
          labelNames: ['outcome'],
          registers: [registry],
        });
      for (const outcome of TRIAGE_OUTCOMES) this.metric.inc({ outcome }, 0);
    }
  }

  /** Counters since the queue started. */
  get counts(): TriageCounts {
    return { ...this.count };
  }

  /**
   * Queues a newly opened incident for a note; returns at once. An incident
   * that is not open, or whose id was offered before, is ignored; an offer to
   * a full or closed queue is dropped.
   */
  offer(incident: SecurityIncident): TriageOffer {
    if (incident.status !== 'open' || this.seen.has(incident.incidentId)) return 'ignored';
    this.remember(incident.incidentId);
    if (this.closed || this.pending.length >= this.capacity) {
      this.record('dropped');
      return 'dropped';
    }
    this.pending.push(incident);
    this.count.queued++;
    this.pump();
    return 'queued';
  }

  /** Resolves once nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.pending.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Aborts the calls in flight, discards the queued incidents (counted dropped) and resolves once the calls have settled. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      const discarded = this.pending.splice(0);
      for (const _ of discarded) this.record('dropped');
      if (discarded.length > 0) {
        this.logger.warn({ discarded: discarded.length }, 'incident triage closed: queued incidents dropped');
      }
      for (const controller of this.running.keys()) controller.abort(new TriageClosed());
    }
    await Promise.allSettled([...this.running.values()]);
    this.settleIdle();
  }

  private remember(incidentId: string): void {
    this.seen.add(incidentId);
    if (this.seen.size > this.rememberIds) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }

  private record(outcome: TriageOutcome): void {
    this.count[outcome]++;
    this.metric?.inc({ outcome });
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.pending.length > 0) {
      const incident = this.pending.shift()!;
      const controller = new AbortController();
      const done = this.run(incident, controller.signal, () =>
        controller.abort(new TriageTimeout(this.timeoutMs)),
      )
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(controller);
          this.pump();
          this.settleIdle();
        });
      this.running.set(controller, done);
    }
  }

  private async run(incident: SecurityIncident, signal: AbortSignal, timeOut: () => void): Promise<void> {
    const timer = setTimeout(timeOut, this.timeoutMs);
    timer.unref();
    try {
      const note = await untilAborted(this.triage.note(incident, signal), signal);
      if (note.trim().length === 0) throw new Error('empty note');
      await untilAborted(this.store.setTriageNote(incident.incidentId, note), signal);
      this.record('noted');
    } catch (err) {
      this.record('failed');
      this.logger.warn(
        {
          incidentId: incident.incidentId,
          kind: incident.kind,
          reason: reasonOf(signal.aborted ? signal.reason : err),
        },
        'incident triage note failed',
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private settleIdle(): void {
    if (this.pending.length > 0 || this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** The promise, or a rejection as soon as the signal aborts (for a triage or store that ignores signals). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined); // abandoned after an abort: its rejection is not unhandled
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** One short reason for a log line: `timeout`, `closed`, `http 429: …`, or the error's message. */
function reasonOf(err: unknown): string {
  if (err instanceof TriageTimeout) return 'timeout';
  if (err instanceof TriageClosed) return 'closed';
  if (err instanceof Error) {
    const status = (err as { status?: unknown }).status;
    const message = err.message.split('\n', 1)[0]!.slice(0, 200);
    return typeof status === 'number' ? `http ${status}: ${message}` : message;
  }
  return String(err).slice(0, 200);
}

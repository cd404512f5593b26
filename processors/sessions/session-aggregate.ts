import type { SessionSummary, TelemetryEvent } from '../../schemas/index.js';
import type { Window } from '../../topology/index.js';

/**
 * What the session store keeps per open session (store `user-sessions`):
 * enough to summarise it. JSON-serialisable; pages are a sorted array used as a set.
 */
export interface SessionAggregate {
  readonly eventCount: number;
  readonly countsByType: Readonly<Record<string, number>>;
  readonly errorCount: number;
  readonly pages: readonly string[];
  readonly lastPath: string | null;
  /** Event time of `lastPath`, so that merging two sessions keeps the later one. */
  readonly lastPathAt: number;
}

/** Beyond this many distinct pages a session stops remembering new ones (its count stays at the cap). */
export const MAX_TRACKED_PAGES = 1_000;

export const emptySession = (): SessionAggregate => ({
  eventCount: 0,
  countsByType: {},
  errorCount: 0,
  pages: [],
  lastPath: null,
  lastPathAt: -1,
});

const isError = (event: TelemetryEvent) => event.eventType === 'api_error' || event.eventType === 'error';

/** Adds one event to a session. Pure. */
export function addToSession(session: SessionAggregate, event: TelemetryEvent): SessionAggregate {
  const page = event.payload.page;
  const path = page ?? event.payload.path;
  const later = path !== null && event.timestamp >= session.lastPathAt;
  return {
    eventCount: session.eventCount + 1,
    countsByType: {
      ...session.countsByType,
      [event.eventType]: (session.countsByType[event.eventType] ?? 0) + 1,
    },
    errorCount: session.errorCount + (isError(event) ? 1 : 0),
    pages: page === null ? session.pages : unionOfPages(session.pages, [page]),
    lastPath: later ? path : session.lastPath,
    lastPathAt: later ? event.timestamp : session.lastPathAt,
  };
}

/** Combines two sessions that an event bridged. Pure. */
export function mergeSessions(a: SessionAggregate, b: SessionAggregate): SessionAggregate {
  // the engine merges every extended session into a fresh one: skip the copy
  if (a.eventCount === 0) return b;
  if (b.eventCount === 0) return a;
  const countsByType: Record<string, number> = { ...a.countsByType };
  for (const [type, n] of Object.entries(b.countsByType)) countsByType[type] = (countsByType[type] ?? 0) + n;
  const latest = b.lastPathAt > a.lastPathAt ? b : a;
  return {
    eventCount: a.eventCount + b.eventCount,
    countsByType,
    errorCount: a.errorCount + b.errorCount,
    pages: unionOfPages(a.pages, b.pages),
    lastPath: latest.lastPath,
    lastPathAt: latest.lastPathAt,
  };
}

function unionOfPages(a: readonly string[], b: readonly string[]): readonly string[] {
  if (b.every((p) => a.includes(p))) return a;
  return [...new Set([...a, ...b])].sort().slice(0, MAX_TRACKED_PAGES);
}

/**
 * A session as the platform shows it: from the session store's entry (key
 * `tenantId/userId`, window, aggregate), for `user_sessions` and for the API's
 * open sessions.
 * @example const [[session, aggregate]] = await store.fetch('acme/u1'); sessionSummaryOf(session.key, session.window, aggregate)
 */
export function sessionSummaryOf(key: string, window: Window, aggregate: SessionAggregate): SessionSummary {
  const slash = key.indexOf('/');
  return {
    tenantId: slash < 0 ? key : key.slice(0, slash),
    userId: slash < 0 ? '' : key.slice(slash + 1),
    start: window.start,
    end: window.end,
    durationMs: window.end - window.start,
    eventCount: aggregate.eventCount,
    countsByType: { ...aggregate.countsByType },
    errorCount: aggregate.errorCount,
    distinctPages: aggregate.pages.length,
    lastPath: aggregate.lastPath,
  };
}

import { filter, map } from 'rxjs';
import type { SessionSummary, TelemetryEvent } from '../../schemas/index.js';
import {
  type KStream,
  type ProcessorSupplier,
  type Serde,
  Serdes,
  type SessionStore,
  SessionWindows,
  type StreamRecord,
  Suppressed,
  type Windowed,
} from '../../topology/index.js';
import { type SinkRetryOptions, writeBatchToSink } from '../write-batch-to-sink.js';
import {
  addToSession,
  emptySession,
  mergeSessions,
  type SessionAggregate,
  sessionSummaryOf,
} from './session-aggregate.js';
import type { SessionHistorySink } from './session-history-sink.js';

export const USER_SESSIONS_TOPIC = 'user_sessions';
/** The session store: open sessions per `tenantId/userId`, for interactive queries. */
export const USER_SESSIONS_STORE = 'user-sessions';
/** The suppress buffer: one entry per session not closed yet. */
export const OPEN_SESSIONS_STORE = 'user-sessions-until-closed';

export interface UserSessionsOptions {
  readonly sessionSerde: Serde<SessionSummary>;
  readonly history: SessionHistorySink;
  /** A user's session ends after this much event time without an event. Default 30 minutes. */
  readonly inactivityGapMs?: number;
  /** How long after its end a session still accepts out-of-order events. Default 5 minutes. */
  readonly graceMs?: number;
  readonly retry?: SinkRetryOptions;
}

/**
 * User sessions from the clean telemetry (keyed `tenantId/userId`): session
 * windows by inactivity gap, aggregated in the session store `user-sessions`
 * (open sessions, queryable), emitted once closed (stream time past its end +
 * gap + grace: no event can extend it any more) as a SessionSummary: first
 * appended to the session history sink, then written to `user_sessions`.
 * Anonymous events have no user and no session.
 * Returns the closed sessions, keyed `tenantId/userId`.
 */
export function userSessions(
  events: KStream<string, TelemetryEvent>,
  options: UserSessionsOptions,
): KStream<string, SessionSummary> {
  const gap = options.inactivityGapMs ?? 30 * 60_000;
  const grace = options.graceMs ?? 5 * 60_000;
  // as in Kafka Streams, the engine closes a session once stream time passes its end + gap + grace
  const windows = SessionWindows.ofInactivityGapAndGrace(gap, grace);
  const closed = events
    .filter((event) => event.userId !== null, { name: 'users-only' })
    .groupByKey()
    .windowedBy(windows)
    .aggregate(
      emptySession,
      (_user, event, session) => addToSession(session, event),
      (_user, a, b) => mergeSessions(a, b),
      { name: USER_SESSIONS_STORE, value: Serdes.json<SessionAggregate>() },
    )
    .suppress(Suppressed.untilWindowCloses(), { name: OPEN_SESSIONS_STORE })
    .toStream()
    // keyed by the user again: the records are already in the task that owns the user, so no repartition
    .process(summarizeClosedSession, {
      name: 'summarize-closed-session',
      stores: [USER_SESSIONS_STORE],
      keyPreserving: true,
      key: Serdes.string as Serde<string>,
      value: options.sessionSerde,
    })
    .process(
      writeBatchToSink<string, SessionSummary>(
        'session-history',
        (sessions) => options.history.append(sessions),
        options.retry,
      ),
      { name: 'append-session-history', keyPreserving: true, value: options.sessionSerde },
    );
  closed.to(USER_SESSIONS_TOPIC, { name: 'user-sessions-out' });
  return closed;
}

/**
 * A closed session leaves the session store, which therefore holds only open
 * sessions (bounded state; `fetch(user)` answers "what is this user doing now").
 */
const summarizeClosedSession: ProcessorSupplier<
  Windowed<string>,
  SessionAggregate | null,
  string,
  SessionSummary
> = (context) => {
  const sessions = context.getStateStore<SessionStore<string, SessionAggregate>>(USER_SESSIONS_STORE);
  return (source) =>
    source.pipe(
      // suppress emits closed sessions with their value; retractions stay in its buffer
      filter((record): record is StreamRecord<Windowed<string>, SessionAggregate> => record.value !== null),
      map((record) => {
        sessions.remove(record.key);
        const summary = sessionSummaryOf(record.key.key, record.key.window, record.value);
        return { ...record, key: record.key.key, value: summary };
      }),
    );
};

import type { SessionSummary } from '../../schemas/index.js';
import type { SessionStore, StreamsApplication } from '../../topology/index.js';
import { type SessionAggregate, sessionSummaryOf } from './session-aggregate.js';
import { USER_SESSIONS_STORE } from './user-sessions.js';

/**
 * The open session of a user, by an interactive query on the session store of
 * the task that owns the user's key. The store holds sessions until they are
 * emitted as closed (end + gap + grace behind stream time), so its latest
 * session is the open one. Null when the user has none, or when another
 * instance of the group owns the user's partition.
 *
 * @example const open = await openSessionOf(app)('acme', 'u1');
 */
export function openSessionOf(
  app: StreamsApplication,
): (tenantId: string, userId: string) => Promise<SessionSummary | null> {
  return async (tenantId, userId) => {
    const key = `${tenantId}/${userId}`;
    const store = app.queryStore<SessionStore<string, SessionAggregate>>(USER_SESSIONS_STORE, key);
    if (store === undefined) return null;
    const sessions = await store.fetch(key);
    const latest = sessions[sessions.length - 1];
    if (latest === undefined) return null;
    const [windowed, aggregate] = latest;
    return sessionSummaryOf(key, windowed.window, aggregate);
  };
}

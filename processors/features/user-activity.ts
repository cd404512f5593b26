import type { FeatureViewDefinition } from './feature-view.js';
import { type Bucket, bucketAt, LAST_24_HOURS, LAST_HOUR, ratio, sumInWindow } from './rolling-buckets.js';

export const USER_ACTIVITY_STORE = 'user-activity-features';

/** What user activity is computed from: a user's events and closed sessions, keyed `tenantId/userId`. */
export type UserActivityInput =
  | { readonly kind: 'event'; readonly error: boolean }
  | { readonly kind: 'session'; readonly end: number; readonly durationMs: number };

interface EventBucket extends Bucket {
  events: number;
  errors: number;
}

interface SessionBucket extends Bucket {
  sessions: number;
  durationMs: number;
}

export interface UserActivityState {
  lastSeen: number;
  minutes: EventBucket[];
  /** Closed sessions by the hour they ended in. */
  hours: SessionBucket[];
}

/**
 * `user_activity` per `tenantId/userId`, as of the user's latest event:
 * - events_1h, errors_1h (api_error and error events), error_rate_1h (errors / events, 0 without events);
 * - sessions_24h: sessions that closed and ended in the last 24 hours (hourly resolution),
 *   avg_session_duration_24h: their mean duration in ms (0 without sessions);
 * - last_seen: the latest event time (epoch ms).
 */
export const userActivity: FeatureViewDefinition<UserActivityState, UserActivityInput> = {
  view: 'user_activity',
  storeName: USER_ACTIVITY_STORE,
  initial: () => ({ lastSeen: -1, minutes: [], hours: [] }),
  // past its 24-hour session window (plus an hour for late sessions) a user's values are all zero
  idleExpiryMs: 25 * 3_600_000,
  add(state, input, time) {
    if (input.kind === 'event') {
      state.lastSeen = Math.max(state.lastSeen, time);
      const bucket = bucketAt(state.minutes, LAST_HOUR, state.lastSeen, time, (slot) => ({
        slot,
        events: 0,
        errors: 0,
      }));
      if (bucket === undefined) return;
      bucket.events += 1;
      if (input.error) bucket.errors += 1;
    } else {
      state.lastSeen = Math.max(state.lastSeen, input.end);
      const bucket = bucketAt(state.hours, LAST_24_HOURS, state.lastSeen, input.end, (slot) => ({
        slot,
        sessions: 0,
        durationMs: 0,
      }));
      if (bucket === undefined) return;
      bucket.sessions += 1;
      bucket.durationMs += input.durationMs;
    }
  },
  asOf: (state) => state.lastSeen,
  values(state) {
    const events = sumInWindow(state.minutes, LAST_HOUR, state.lastSeen, (b) => b.events);
    const errors = sumInWindow(state.minutes, LAST_HOUR, state.lastSeen, (b) => b.errors);
    const sessions = sumInWindow(state.hours, LAST_24_HOURS, state.lastSeen, (b) => b.sessions);
    const duration = sumInWindow(state.hours, LAST_24_HOURS, state.lastSeen, (b) => b.durationMs);
    return {
      events_1h: events,
      errors_1h: errors,
      error_rate_1h: ratio(errors, events),
      sessions_24h: sessions,
      avg_session_duration_24h: ratio(duration, sessions),
      last_seen: state.lastSeen,
    };
  },
};

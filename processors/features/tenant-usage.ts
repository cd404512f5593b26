import type { TelemetryEvent } from '../../schemas/index.js';
import { type KeyValueStore, readStored, TimeIndex } from '../../topology/index.js';
import { type FeatureViewDefinition, idleIndexStoreOf } from './feature-view.js';
import { type Bucket, bucketAt, LAST_HOUR, slotOf, sumInWindow } from './rolling-buckets.js';

export const TENANT_USAGE_STORE = 'tenant-usage-features';
/** Each user's latest event time, per `tenantId/userId`, for counting active users. */
export const TENANT_USER_LAST_SEEN_STORE = 'tenant-user-last-seen';

/** The key of a user's last-seen time: users are per tenant. */
const lastSeenKey = (tenantId: string, userId: string) => `${tenantId}/${userId}`;

/** Last-seen times are kept this long past the hour they count for, for events that arrive out of order. */
const LAST_SEEN_SLACK_MS = 10 * 60_000;

interface UsageBucket extends Bucket {
  events: number;
  /** Users whose latest event falls in this minute. */
  lastSeenUsers: number;
}

/**
 * What tenant usage needs of an event, and all that crosses its repartition
 * topic (the tenant is the key): the user, null for an anonymous event.
 */
export interface TenantEvent {
  readonly userId: string | null;
}

export const tenantEventOf = (event: TelemetryEvent): TenantEvent => ({ userId: event.userId });

export interface TenantUsageState {
  latest: number;
  minutes: UsageBucket[];
}

const newMinute = (slot: number): UsageBucket => ({ slot, events: 0, lastSeenUsers: 0 });

/** The state's minute bucket of event time `time`, made when missing; undefined when out of the hour. */
const minuteOf = (state: TenantUsageState, time: number): UsageBucket | undefined =>
  bucketAt(state.minutes, LAST_HOUR, state.latest, time, newMinute);

/**
 * `tenant_usage` per tenant, over the last hour (one-minute buckets) as of the
 * tenant's latest event: events_1h (anonymous events included) and
 * active_users_1h (users with an event in the window). Each user is counted in
 * the minute of their latest event (moved when they come back), so the sum over
 * the window is exact without keeping the user list in the tenant's state; the
 * users' last-seen times are a separate store, expired an hour (plus slack) behind.
 */
export function tenantUsage(): FeatureViewDefinition<TenantUsageState, TenantEvent> {
  let lastSeen: KeyValueStore<string, number>;
  let byTime: TimeIndex;
  return {
    view: 'tenant_usage',
    storeName: TENANT_USAGE_STORE,
    init(context) {
      lastSeen = context.getStateStore<KeyValueStore<string, number>>(TENANT_USER_LAST_SEEN_STORE);
      byTime = new TimeIndex(context.getStateStore(idleIndexStoreOf(TENANT_USER_LAST_SEEN_STORE)));
      context.schedule(60_000, 'stream-time', async (streamTime) => {
        const cutoff = streamTime - LAST_HOUR.bucketMs * LAST_HOUR.size - LAST_SEEN_SLACK_MS;
        await byTime.expire(lastSeen, cutoff, (time) => time);
      });
    },
    initial: () => ({ latest: -1, minutes: [] }),
    // the batch's users' last-seen times, in one read (the records' keys are their tenants)
    readAhead: (records) =>
      lastSeen.prefetch?.(
        records.flatMap((r) => (r.value.userId === null ? [] : [lastSeenKey(r.key, r.value.userId)])),
      ),
    // synchronous when the user's last-seen time is in memory (written in the batch, or read ahead)
    add(state, event, time, tenantId) {
      state.latest = Math.max(state.latest, time);
      const bucket = minuteOf(state, time);
      if (bucket === undefined) return;
      bucket.events += 1;
      if (event.userId === null) return;
      const user = lastSeenKey(tenantId, event.userId);
      return readStored(lastSeen, user, (previous) => {
        if (previous !== undefined && slotOf(LAST_HOUR, previous) >= bucket.slot) return;
        if (previous !== undefined) {
          const old = minuteOf(state, previous);
          if (old !== undefined && old.lastSeenUsers > 0) old.lastSeenUsers -= 1;
        }
        bucket.lastSeenUsers += 1;
        lastSeen.put(user, time);
        byTime.move(previous, time, user);
      });
    },
    asOf: (state) => state.latest,
    values: (state) => ({
      active_users_1h: sumInWindow(state.minutes, LAST_HOUR, state.latest, (b) => b.lastSeenUsers),
      events_1h: sumInWindow(state.minutes, LAST_HOUR, state.latest, (b) => b.events),
    }),
  };
}

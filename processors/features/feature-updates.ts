import type { FeatureUpdate, SessionSummary, TelemetryEvent } from '../../schemas/index.js';
import { type KStream, type Serde, Serdes, type TopologyBuilder } from '../../topology/index.js';
import { type SinkRetryOptions, writeBatchToSink } from '../write-batch-to-sink.js';
import {
  type ApiCall,
  apiCallOf,
  ENDPOINT_HEALTH_STORE,
  endpointEntityOf,
  endpointHealth,
  isApiEvent,
} from './endpoint-health.js';
import type { FeatureSink } from './feature-sink.js';
import { featureView, idleIndexStoreOf } from './feature-view.js';
import {
  TENANT_USAGE_STORE,
  TENANT_USER_LAST_SEEN_STORE,
  type TenantEvent,
  tenantEventOf,
  tenantUsage,
} from './tenant-usage.js';
import { USER_ACTIVITY_STORE, type UserActivityInput, userActivity } from './user-activity.js';

export const FEATURE_UPDATES_TOPIC = 'feature_updates';

export interface FeatureUpdatesOptions {
  readonly telemetrySerde: Serde<TelemetryEvent>;
  readonly featureSerde: Serde<FeatureUpdate>;
  readonly sink: FeatureSink;
  readonly retry?: SinkRetryOptions;
}

/**
 * The three feature views, updated continuously on event time from the clean
 * telemetry (keyed `tenantId/userId`) and the closed sessions:
 * `user_activity` (in the users' own tasks), `endpoint_health` and
 * `tenant_usage` (each re-keyed through its repartition topic, so an entity's
 * state lives in one task). Every update is written to the feature sink, then
 * to `feature_updates` keyed by entity.
 */
export function featureUpdates(
  builder: TopologyBuilder,
  events: KStream<string, TelemetryEvent>,
  sessions: KStream<string, SessionSummary>,
  options: FeatureUpdatesOptions,
): void {
  const json = <T>() => ({ key: Serdes.string as Serde<string>, value: Serdes.json<T>() });
  // each view's entity is the key of the records its task reads (the repartition topic's key)
  const entities = { ...json(), keyedByInput: true };
  builder.addStateStore(USER_ACTIVITY_STORE, entities);
  builder.addStateStore(idleIndexStoreOf(USER_ACTIVITY_STORE), { key: Serdes.string, value: Serdes.string });
  builder.addStateStore(idleIndexStoreOf(TENANT_USER_LAST_SEEN_STORE), {
    key: Serdes.string,
    value: Serdes.string,
  });
  builder.addStateStore(ENDPOINT_HEALTH_STORE, entities);
  builder.addStateStore(TENANT_USAGE_STORE, entities);
  builder.addStateStore(TENANT_USER_LAST_SEEN_STORE, json<number>());
  const activityInput = { value: Serdes.json<UserActivityInput>() };

  const userEvents = events
    .filter((event) => event.userId !== null, { name: 'user-activity-events' })
    .mapValues(
      (event): UserActivityInput => ({
        kind: 'event',
        error: event.eventType === 'api_error' || event.eventType === 'error',
      }),
      { name: 'user-activity-event', ...activityInput },
    );
  const userSessions = sessions.mapValues(
    (session): UserActivityInput => ({ kind: 'session', end: session.end, durationMs: session.durationMs }),
    { name: 'user-activity-session', ...activityInput },
  );
  const toFeatureStore = (updates: KStream<string, FeatureUpdate>, view: string): void => {
    updates
      .process(
        writeBatchToSink<string, FeatureUpdate>(
          'feature-store',
          (batch) => options.sink.write(batch),
          options.retry,
        ),
        { name: `${view}-to-feature-store`, keyPreserving: true, value: options.featureSerde },
      )
      .to(FEATURE_UPDATES_TOPIC, { name: `${view}-updates-out` });
  };

  // each view writes its own batches: the views live in different tasks
  toFeatureStore(
    userEvents.merge(userSessions, { name: 'user-activity-inputs' }).process(
      featureView(() => userActivity),
      {
        name: 'user-activity',
        stores: [USER_ACTIVITY_STORE, idleIndexStoreOf(USER_ACTIVITY_STORE)],
        keyPreserving: true,
      },
    ),
    'user-activity',
  );
  toFeatureStore(
    events
      .filter(isApiEvent, { name: 'api-events' })
      .selectKey(endpointEntityOf, { name: 'key-by-endpoint', key: Serdes.string as Serde<string> })
      .mapValues(apiCallOf, { name: 'api-call', value: Serdes.json<ApiCall>() })
      .repartition({ name: 'events-by-endpoint' })
      .process(featureView(endpointHealth), {
        name: 'endpoint-health',
        stores: [ENDPOINT_HEALTH_STORE],
        keyPreserving: true,
      }),
    'endpoint-health',
  );
  toFeatureStore(
    events
      .selectKey((event) => event.tenantId, { name: 'key-by-tenant', key: Serdes.string as Serde<string> })
      .mapValues(tenantEventOf, { name: 'tenant-event', value: Serdes.json<TenantEvent>() })
      .repartition({ name: 'events-by-tenant' })
      .process(featureView(tenantUsage), {
        name: 'tenant-usage',
        stores: [
          TENANT_USAGE_STORE,
          TENANT_USER_LAST_SEEN_STORE,
          idleIndexStoreOf(TENANT_USER_LAST_SEEN_STORE),
        ],
        keyPreserving: true,
      }),
    'tenant-usage',
  );
}

/**
 * Feature views forget idle entities: state whose as-of time is further
 * behind stream time than the view's idle expiry is deleted (a tombstone in
 * its changelog), so a view over an unbounded set of users stays bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { featureView, idleIndexStoreOf } from '../../../processors/features/feature-view.js';
import { USER_ACTIVITY_STORE, userActivity } from '../../../processors/features/user-activity.js';
import { type KeyValueStore, type Serde, Serdes, TopologyBuilder } from '../../../topology/index.js';
import { TestDriver } from '../../../topology/testing/index.js';

let driver: TestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const HOUR = 3_600_000;

describe('feature view idle expiry', () => {
  it('user_activity deletes a user idle for more than 25 hours of stream time, and keeps active ones', async () => {
    const builder = new TopologyBuilder();
    builder.addStateStore(USER_ACTIVITY_STORE, { key: Serdes.string as Serde<string>, value: Serdes.json() });
    builder.addStateStore(idleIndexStoreOf(USER_ACTIVITY_STORE), {
      key: Serdes.string,
      value: Serdes.string,
    });
    builder
      .stream('in', {
        key: Serdes.string as Serde<string>,
        value: Serdes.json<{ kind: 'event'; error: boolean }>(),
      })
      .process(
        featureView(() => userActivity),
        {
          name: 'user-activity',
          stores: [USER_ACTIVITY_STORE, idleIndexStoreOf(USER_ACTIVITY_STORE)],
          keyPreserving: true,
        },
      );
    driver = await TestDriver.create(builder.build());
    const event = { kind: 'event' as const, error: false };
    await driver.pipeInput('in', 'acme/idle', event, 0);
    await driver.pipeInput('in', 'acme/active', event, 0);
    for (let h = 1; h <= 27; h++) await driver.pipeInput('in', 'acme/active', event, h * HOUR);
    const store = driver.app.queryStore<KeyValueStore<string, unknown>>(USER_ACTIVITY_STORE, 'acme/idle')!;
    expect(await store.get('acme/idle')).toBeUndefined();
    expect(await store.get('acme/active')).toBeDefined();
    // the changelog carries the deletion, so a restore does not bring the idle user back
    const changelog = driver.readRaw(`test-app-${USER_ACTIVITY_STORE}-changelog`);
    expect(changelog.some((r) => r.key?.toString() === 'acme/idle' && r.value === null)).toBe(true);
  });
});

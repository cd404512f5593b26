import { type FeatureUpdate, type FeatureView, tenantOfEntity } from '../../schemas/index.js';
import {
  type KeyValueStore,
  type ProcessorContext,
  type ProcessorSupplier,
  type RecordProcessor,
  readStored,
  type StreamRecord,
  TimeIndex,
} from '../../topology/index.js';

/** How one feature view folds its inputs into per-entity state and reads values from it. */
export interface FeatureViewDefinition<S, V> {
  readonly view: FeatureView;
  /** The changelogged key-value store of entity → state. */
  readonly storeName: string;
  readonly initial: () => S;
  /** Folds one input (at event time `time`) into the entity's state, in place. May use the context's other stores. */
  readonly add: (state: S, value: V, time: number, entity: string) => void | Promise<void>;
  /** The event time the state is as of: the latest it has seen. */
  readonly asOf: (state: S) => number;
  readonly values: (state: S) => Record<string, number>;
  /**
   * Reads ahead what `add` will read of the context's other stores for the
   * batch's records (RecordProcessor.readAhead; the entity store reads ahead
   * by itself, declared `keyedByInput`). Called only when the view reads
   * straight from its repartition topic.
   */
  readonly readAhead?: (records: readonly StreamRecord<string, V>[]) => void | Promise<void>;
  /** Called once per task (the definition is made per task), e.g. to get further stores or schedule expiry. */
  readonly init?: (context: ProcessorContext) => void;
  /**
   * An entity whose state is this far (in stream time) behind the task's
   * stream time is deleted: its values have all left their windows, and an
   * idle entity must not hold state for ever. Needs the store
   * `idleIndexStoreOf(storeName)` (string keys and values) connected too.
   */
  readonly idleExpiryMs?: number;
}

/** The store that indexes a feature view's entities by their as-of time, for idle expiry. */
export const idleIndexStoreOf = (storeName: string): string => `${storeName}-by-time`;

/** How often, in stream time, idle entities are looked for. */
const IDLE_SWEEP_INTERVAL_MS = 60_000;

/**
 * A processor keyed by entity that keeps one state per entity (a changelogged
 * store) and emits a FeatureUpdate per entity the batch touched, once, at the
 * end of the batch: one store write and one update per entity per batch,
 * however many of its records the batch held.
 */
export function featureView<S, V>(
  definitionPerTask: () => FeatureViewDefinition<S, V>,
): ProcessorSupplier<string, V, string, FeatureUpdate> {
  return (context): RecordProcessor<string, V> => {
    const definition = definitionPerTask();
    definition.init?.(context);
    const store = context.getStateStore<KeyValueStore<string, S>>(definition.storeName);
    /** Entities touched in the batch, with their as-of time before it; a dead-lettered record does not lose the others. */
    const touched = new Map<
      string,
      { state: S; last: StreamRecord<string, V>; before: number | undefined }
    >();
    const idle =
      definition.idleExpiryMs === undefined
        ? undefined
        : new TimeIndex(context.getStateStore(idleIndexStoreOf(definition.storeName)));
    if (idle !== undefined && definition.idleExpiryMs !== undefined) {
      const ttl = definition.idleExpiryMs;
      context.schedule(IDLE_SWEEP_INTERVAL_MS, 'stream-time', async (streamTime) => {
        const cutoff = streamTime - ttl;
        // an entity touched in the batch is re-indexed at its end
        await idle.expire(store, cutoff, definition.asOf, (entity) => touched.has(entity));
      });
    }

    const touch = (record: StreamRecord<string, V>, state: S, before: number | undefined): void => {
      touched.set(record.key, { state, last: record, before });
    };
    // no closure per record unless `add` is asynchronous
    const add = (
      record: StreamRecord<string, V>,
      state: S,
      before: number | undefined,
    ): void | Promise<void> => {
      const added = definition.add(state, record.value, record.timestamp, record.key);
      if (added instanceof Promise) return added.then(() => touch(record, state, before));
      touch(record, state, before);
    };
    // synchronous (no promise for the record) when the entity was touched in the batch or its state is in memory
    const fold = (record: StreamRecord<string, V>): void | Promise<void> => {
      const entry = touched.get(record.key);
      if (entry !== undefined) return add(record, entry.state, entry.before);
      return readStored(store, record.key, (stored) =>
        add(
          record,
          structuredClone(stored ?? definition.initial()),
          stored === undefined ? undefined : definition.asOf(stored),
        ),
      );
    };

    return {
      process: fold,
      ...(definition.readAhead === undefined ? {} : { readAhead: definition.readAhead }),
      onBatchEnd: () => {
        for (const [entity, { state, last, before }] of touched) {
          const values = definition.values(state);
          store.put(entity, state);
          const eventTime = definition.asOf(state);
          idle?.move(before, eventTime, entity);
          context.forward({
            ...last,
            value: { view: definition.view, entity, tenantId: tenantOfEntity(entity), values, eventTime },
            timestamp: eventTime,
          });
        }
        touched.clear();
      },
    };
  };
}

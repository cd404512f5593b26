import type {
  KeyValueStore,
  ProcessorContext,
  ProcessorSupplier,
  RecordProcessor,
  StreamRecord,
} from '../../topology/index.js';
import { type FeatureUpdate, type FeatureView, tenantOfEntity } from './feature-update.js';

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
  /** Called once per task (the definition is made per task), e.g. to get further stores or schedule expiry. */
  readonly init?: (context: ProcessorContext) => void;
}

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
    /** Entities touched in the batch; a dead-lettered record does not lose the others. */
    const touched = new Map<string, { state: S; last: StreamRecord<string, V> }>();

    const fold = async (record: StreamRecord<string, V>, cached: S | undefined): Promise<void> => {
      const state = cached ?? structuredClone((await store.get(record.key)) ?? definition.initial());
      await definition.add(state, record.value, record.timestamp, record.key);
      touched.set(record.key, { state, last: record });
    };

    return {
      process: (record) => fold(record, touched.get(record.key)?.state),
      onBatchEnd: () => {
        for (const [entity, { state, last }] of touched) {
          const values = definition.values(state);
          store.put(entity, state);
          const eventTime = definition.asOf(state);
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

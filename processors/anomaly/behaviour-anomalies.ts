import { type AnomalyScore, entityOfKey, type TelemetryEvent } from '../../schemas/index.js';
import {
  type KStream,
  type Serde,
  Serdes,
  Suppressed,
  TimeWindows,
  type TopologyBuilder,
  TopologyError,
} from '../../topology/index.js';
import {
  ANOMALY_BASELINES_BY_TIME_STORE,
  ANOMALY_BASELINES_STORE,
  ANOMALY_MODELS_STORE,
  type BehaviourScorerOptions,
  behaviourScorer,
  type EntityBaselines,
} from './behaviour-scorer.js';
import {
  addObservation,
  type BehaviourAccumulator,
  type BehaviourObservation,
  type BehaviourWindow,
  behaviourWindowOf,
  emptyBehaviour,
  keyedObservationsOf,
} from './behaviour-window.js';

export const ANOMALY_SCORES_TOPIC = 'anomaly_scores';
/** The window store of the behaviour windows being aggregated. */
export const BEHAVIOUR_WINDOWS_STORE = 'behaviour-windows';

export interface AnomalyScoresOptions extends BehaviourScorerOptions {
  readonly scoreSerde: Serde<AnomalyScore>;
  /** Tumbling behaviour window size. Default 30 seconds. */
  readonly windowMs?: number;
  /** How long after its end a window still takes out-of-order events. Default 5 seconds. */
  readonly graceMs?: number;
}

/**
 * Anomaly scores of behaviour, per tenant, user and client IP: each clean
 * event is observed by its entities (repartitioned by entity key), aggregated
 * in tumbling windows (counts, distinct endpoints, users, IPs and user
 * agents, auth failures, off-hours share, latency), emitted once per window
 * when it closes, and scored (behaviour-scorer.ts) to `anomaly_scores`.
 * Returns the scores, keyed by entity.
 */
export function anomalyScores(
  builder: TopologyBuilder,
  events: KStream<string, TelemetryEvent>,
  options: AnomalyScoresOptions,
): KStream<string, AnomalyScore> {
  const windows = TimeWindows.ofSizeAndGrace(options.windowMs ?? 30_000, options.graceMs ?? 5_000);
  builder.addStateStore(ANOMALY_BASELINES_STORE, {
    key: Serdes.string,
    value: Serdes.json<EntityBaselines>(),
  });
  builder.addStateStore(ANOMALY_BASELINES_BY_TIME_STORE, { key: Serdes.string, value: Serdes.string });
  builder.addStateStore(ANOMALY_MODELS_STORE, { key: Serdes.string, value: Serdes.bytes });
  const scores = events
    .flatMap((event) => keyedObservationsOf(event), {
      name: 'behaviour-observations',
      key: Serdes.string as Serde<string>,
      value: Serdes.json<BehaviourObservation>(),
    })
    .groupByKey({ name: 'observations-by-entity' })
    .windowedBy(windows)
    .aggregate<BehaviourAccumulator>(emptyBehaviour, (_key, o, acc) => addObservation(acc, o), {
      name: BEHAVIOUR_WINDOWS_STORE,
      value: Serdes.json<BehaviourAccumulator>(),
    })
    .suppress(Suppressed.untilWindowCloses(), { name: 'behaviour-windows-closing' })
    .toStream()
    .filter((acc) => acc !== null, { name: 'closed-behaviour-windows' })
    .map(
      (acc, record) => ({
        key: record.key.key,
        value: behaviourWindowOf(entityOf(record.key.key), record.key.window, acc!),
      }),
      {
        name: 'behaviour-window',
        key: Serdes.string as Serde<string>,
        value: Serdes.json<BehaviourWindow>(),
      },
    )
    .process(behaviourScorer(options), {
      name: 'score-behaviour',
      stores: [ANOMALY_BASELINES_STORE, ANOMALY_BASELINES_BY_TIME_STORE, ANOMALY_MODELS_STORE],
      keyPreserving: true,
      key: Serdes.string as Serde<string>,
      value: options.scoreSerde,
    });
  scores.to(ANOMALY_SCORES_TOPIC, { name: 'anomaly-scores-out' });
  return scores;
}

function entityOf(key: string) {
  const entity = entityOfKey(key);
  if (entity === undefined) throw new TopologyError(`'${key}' is not an entity key`);
  return entity;
}

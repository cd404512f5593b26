/**
 * The anomaly scorer of behaviour windows: a per-record processor keyed by
 * entity (`tenant/…`, `user/…/…`, `ip/…`) that turns each closed window into
 * an `AnomalyScore`, scoring before learning (no look-ahead).
 *
 * - Univariate, per entity: one seasonal robust baseline per feature
 *   (seasonal-scorer.ts; hour of day for tenants, none for users and IPs,
 *   whose windows are too sparse for 24 slots). Scores are one-sided: only a
 *   value above the baseline is suspicious. Each feature has a noise floor
 *   added to its spread, so a flat history (one IP, no failures) does not
 *   turn the first small change into a certainty.
 * - Univariate, per entity kind: the same baselines over every entity of the
 *   kind in the task (the population). A new entity (its own baseline still
 *   warming up) is scored against its kind's: an attacker's IP is always new.
 * - Multivariate, per entity kind: a model over the window's feature vector,
 *   scaled into [0, 1] (Half-Space Trees by default), learning from every
 *   window of the kind.
 * The window's score is the larger of its top feature score and the
 * multivariate score.
 *
 * State: the entity baselines in a changelogged key-value store (expired
 * `entityTtlMs` of stream time after an entity's last window, through a time
 * index), and the kind-level baselines and models, kept in memory while the
 * task runs and written to their store once per batch.
 */
import type { AnomalyScore, EntityKind, FeatureScore } from '../../schemas/index.js';
import type { KeyValueStore, ProcessorContext, RecordProcessor, StreamRecord } from '../../topology/index.js';
import { TimeIndex } from '../../topology/index.js';
import { BEHAVIOUR_FEATURES, type BehaviourFeature, type BehaviourWindow } from './behaviour-window.js';
import { HalfSpaceTrees } from './half-space-trees.js';
import { SeasonalScorer, type SeasonalScorerState } from './seasonal-scorer.js';
import type { Seasonality } from './seasonal-slot.js';

export const ANOMALY_BASELINES_STORE = 'anomaly-baselines';
export const ANOMALY_BASELINES_BY_TIME_STORE = 'anomaly-baselines-by-time';
export const ANOMALY_MODELS_STORE = 'anomaly-models';

/** How one feature is scored and scaled. */
interface FeatureModel {
  /** Added to the baseline's spread: below this, a change is noise. */
  readonly noiseFloor: number;
  /** The value that scales to 1 for the multivariate model (`log1p` for counts, linear for shares). */
  readonly scaleMax: number;
  readonly scale: 'log' | 'linear';
}

const FEATURE_MODELS: Record<BehaviourFeature, FeatureModel> = {
  requests: { noiseFloor: 3, scaleMax: 2_000, scale: 'log' },
  error_rate: { noiseFloor: 0.03, scaleMax: 1, scale: 'linear' },
  auth_failures: { noiseFloor: 1.5, scaleMax: 500, scale: 'log' },
  distinct_failed_users: { noiseFloor: 1, scaleMax: 500, scale: 'log' },
  distinct_endpoints: { noiseFloor: 3, scaleMax: 512, scale: 'log' },
  distinct_users: { noiseFloor: 2, scaleMax: 512, scale: 'log' },
  distinct_ips: { noiseFloor: 0.5, scaleMax: 512, scale: 'log' },
  new_user_agents: { noiseFloor: 0.5, scaleMax: 16, scale: 'log' },
  off_hours_share: { noiseFloor: 0.15, scaleMax: 1, scale: 'linear' },
  latency_p95_ms: { noiseFloor: 25, scaleMax: 10_000, scale: 'log' },
};

/** A multivariate model of one entity kind: scores a vector in [0, 1]^d, then learns it. */
export interface MultivariateModel {
  scoreAndLearn(x: readonly number[]): number;
  toBytes(): Uint8Array;
}

export interface BehaviourScorerOptions {
  /** An entity's baselines are dropped this much stream time after its last window. Default 7 days. */
  readonly entityTtlMs?: number;
  /** EWMA weight of a window in a baseline. Default 0.1. */
  readonly alpha?: number;
  /** Windows an entity's baseline needs before it scores (its kind's scores until then). Default 5. */
  readonly warmup?: number;
  /** The multivariate model of a kind, new or from its bytes. Default: Half-Space Trees seeded by kind. */
  readonly multivariate?: (kind: EntityKind, bytes: Uint8Array | undefined) => MultivariateModel;
}

/** An entity's (or a kind's) baselines as the store keeps them. */
export interface EntityBaselines {
  /** End of the entity's latest window (epoch ms). */
  lastSeen: number;
  /** User-agent hashes seen lately (most recent last, at most MAX_KNOWN_USER_AGENTS). */
  userAgents: number[];
  /** One scorer state per feature, in BEHAVIOUR_FEATURES order. */
  scorers: SeasonalScorerState[];
}

/** User agents an entity remembers: one not among them is new. */
export const MAX_KNOWN_USER_AGENTS = 32;
const HOUR_MS = 3_600_000;
const DEFAULT_TTL_MS = 7 * 24 * HOUR_MS;
const NEW_USER_AGENTS = BEHAVIOUR_FEATURES.indexOf('new_user_agents');

const seasonalityOf = (kind: EntityKind): Seasonality => (kind === 'tenant' ? 'daily' : 'none');
const populationKey = (kind: EntityKind) => `~population/${kind}`;
const KIND_SEEDS: Record<EntityKind, number> = { tenant: 0x7e1a, user: 0x05e7, ip: 0x1b0b };

const defaultMultivariate = (kind: EntityKind, bytes: Uint8Array | undefined): MultivariateModel => {
  const options = { dimensions: BEHAVIOUR_FEATURES.length, seed: KIND_SEEDS[kind] };
  return bytes === undefined ? new HalfSpaceTrees(options) : HalfSpaceTrees.fromBytes(bytes, options);
};

/** A feature value scaled into [0, 1] for the multivariate model. */
export function scaledFeature(feature: BehaviourFeature, value: number): number {
  const model = FEATURE_MODELS[feature];
  const scaled =
    model.scale === 'log'
      ? Math.log1p(Math.max(0, value)) / Math.log1p(model.scaleMax)
      : value / model.scaleMax;
  return Math.min(1, Math.max(0, scaled));
}

export function behaviourScorer(options: BehaviourScorerOptions = {}) {
  const ttl = options.entityTtlMs ?? DEFAULT_TTL_MS;
  const newModel = options.multivariate ?? defaultMultivariate;
  /** Each feature's scorer options, made once (not per window and feature). */
  const optionsOf = new Map(
    BEHAVIOUR_FEATURES.map((feature) => [
      feature,
      {
        alpha: options.alpha ?? 0.1,
        warmup: options.warmup ?? 5,
        epsilon: FEATURE_MODELS[feature].noiseFloor,
      },
    ]),
  );
  const scorerOptions = (feature: BehaviourFeature) => optionsOf.get(feature)!;
  const fresh = (kind: EntityKind): EntityBaselines => ({
    lastSeen: -1,
    userAgents: [],
    scorers: BEHAVIOUR_FEATURES.map((f) =>
      new SeasonalScorer({ ...scorerOptions(f), seasonality: seasonalityOf(kind) }).toJSON(),
    ),
  });

  return (context: ProcessorContext): RecordProcessor<string, BehaviourWindow> => {
    const baselines = context.getStateStore<KeyValueStore<string, EntityBaselines>>(ANOMALY_BASELINES_STORE);
    const idle = new TimeIndex(context.getStateStore(ANOMALY_BASELINES_BY_TIME_STORE));
    const models = context.getStateStore<KeyValueStore<string, Buffer | null>>(ANOMALY_MODELS_STORE);
    /** Kind-level baselines and models in use by this task, written back at the end of each batch. */
    const populations = new Map<EntityKind, EntityBaselines>();
    const multivariate = new Map<EntityKind, MultivariateModel>();
    const dirty = new Set<EntityKind>();

    context.schedule(HOUR_MS, 'stream-time', async (now) => {
      for (const [, key] of await idle.takeBefore(now - ttl)) baselines.delete(key);
    });

    const populationOf = async (kind: EntityKind): Promise<EntityBaselines> => {
      let population = populations.get(kind);
      if (population === undefined) {
        population = (await baselines.get(populationKey(kind))) ?? fresh(kind);
        populations.set(kind, population);
      }
      return population;
    };
    const modelOf = async (kind: EntityKind): Promise<MultivariateModel> => {
      let model = multivariate.get(kind);
      if (model === undefined) {
        const bytes = await models.get(kind);
        model = newModel(kind, bytes === undefined || bytes === null ? undefined : new Uint8Array(bytes));
        multivariate.set(kind, model);
      }
      return model;
    };

    return {
      async process(record: StreamRecord<string, BehaviourWindow>) {
        const window = record.value;
        const kind = window.entity.kind;
        const state = (await baselines.get(record.key)) ?? fresh(kind);
        const population = await populationOf(kind);
        const values = [...window.features];
        values[NEW_USER_AGENTS] = rememberUserAgents(state, window.userAgents);

        const features: FeatureScore[] = BEHAVIOUR_FEATURES.map((feature, i) => {
          const value = values[i] as number;
          const own = scoreAndLearn(state, i, feature, window.windowStart, value);
          const kindLevel = scoreAndLearn(population, i, feature, window.windowStart, value);
          const used = own.baseline !== undefined ? own : kindLevel;
          return { name: feature, value, baseline: used.baseline ?? null, score: used.score };
        });
        const model = await modelOf(kind);
        const multivariateScore = model.scoreAndLearn(
          BEHAVIOUR_FEATURES.map((feature, i) => scaledFeature(feature, values[i] as number)),
        );
        dirty.add(kind);

        idle.move(state.lastSeen < 0 ? undefined : state.lastSeen, window.windowEnd, record.key);
        state.lastSeen = window.windowEnd;
        baselines.put(record.key, state);
        const score: AnomalyScore = {
          entityKind: kind,
          entityId: window.entity.id,
          tenantId: window.entity.tenantId,
          windowStart: window.windowStart,
          windowEnd: window.windowEnd,
          score: Math.max(multivariateScore, ...features.map((f) => f.score)),
          multivariateScore,
          features,
          sampleEventIds: window.sampleEventIds,
        };
        context.forward({ ...record, value: score });
      },
      onBatchEnd() {
        for (const kind of dirty) {
          baselines.put(populationKey(kind), populations.get(kind)!);
          models.put(kind, Buffer.from(multivariate.get(kind)!.toBytes()));
        }
        dirty.clear();
      },
    };

    function scoreAndLearn(
      target: EntityBaselines,
      index: number,
      feature: BehaviourFeature,
      time: number,
      value: number,
    ): { score: number; baseline: number | undefined } {
      // scores and learns in the stored state itself
      const point = SeasonalScorer.over(target.scorers[index]!, scorerOptions(feature)).scorePoint(
        time,
        value,
      );
      // one-sided: less traffic, fewer failures or faster answers are not a threat
      const above = point.baseline !== undefined && value > point.baseline;
      return { score: above ? point.score : 0, baseline: point.baseline };
    }
  };
}

/** Counts the window's user agents the entity has not seen lately, and remembers them. */
function rememberUserAgents(state: EntityBaselines, seen: readonly number[]): number {
  let fresh = 0;
  for (const ua of seen) {
    const at = state.userAgents.indexOf(ua);
    if (at >= 0) state.userAgents.splice(at, 1);
    // the entity's first window has nothing to compare with: its agents are not "new"
    else if (state.lastSeen >= 0) fresh += 1;
    state.userAgents.push(ua);
  }
  if (state.userAgents.length > MAX_KNOWN_USER_AGENTS)
    state.userAgents.splice(0, state.userAgents.length - MAX_KNOWN_USER_AGENTS);
  return fresh;
}

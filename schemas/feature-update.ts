/**
 * The value of `feature_updates` (schemas/feature_update.avsc): the values of
 * one feature view for one entity, as of an event time. The contract between
 * processors/features (which computes), sinks/ (which writes to Redis) and
 * api/ (which serves).
 */
export const FEATURE_VIEWS = ['user_activity', 'endpoint_health', 'tenant_usage'] as const;
export type FeatureView = (typeof FEATURE_VIEWS)[number];

export interface FeatureUpdate {
  readonly view: FeatureView;
  /**
   * The entity the values describe. The tenant is always the first segment,
   * which the API uses as its isolation boundary:
   * - user_activity: `tenantId/userId`
   * - endpoint_health: `tenantId/METHOD path`, e.g. `acme/GET /v1/orders/:id`
   * - tenant_usage: `tenantId`
   */
  readonly entity: string;
  readonly tenantId: string;
  readonly values: Readonly<Record<string, number>>;
  /** The event time (epoch ms) the values are as of; a store never moves an entity back in time. */
  readonly eventTime: number;
}

/** The tenant an entity belongs to: its first `/`-separated segment. */
export function tenantOfEntity(entity: string): string {
  const slash = entity.indexOf('/');
  return slash < 0 ? entity : entity.slice(0, slash);
}

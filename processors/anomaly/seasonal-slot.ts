/**
 * Which seasonal slot a point belongs to, from its event time in UTC:
 * `daily` is the hour of day (24 slots), `weekly` the hour of week (168
 * slots, Monday 00:00 is slot 0), `none` one slot for every point.
 */
export type Seasonality = 'daily' | 'weekly' | 'none';

export const SEASONALITIES: readonly Seasonality[] = ['daily', 'weekly', 'none'];

const HOUR_MS = 3_600_000;

/** How many slots a seasonality has: the scorer keeps one baseline per slot. */
export function slotCount(seasonality: Seasonality): number {
  return seasonality === 'daily' ? 24 : seasonality === 'weekly' ? 168 : 1;
}

/** The slot of `timeMs` (epoch milliseconds), in `[0, slotCount(seasonality))`. */
export function slotOf(seasonality: Seasonality, timeMs: number): number {
  if (seasonality === 'none') return 0;
  const hours = Math.floor(timeMs / HOUR_MS);
  if (seasonality === 'daily') return mod(hours, 24);
  // 1970-01-01 was a Thursday: shift by 3 days so that Monday 00:00 UTC is slot 0
  return mod(hours + 72, 168);
}

const mod = (n: number, m: number): number => ((n % m) + m) % m;

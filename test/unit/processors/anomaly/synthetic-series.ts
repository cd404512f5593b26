import { seededRandom } from '../../../../processors/seeded-random.js';

export const FIVE_MINUTES = 300_000;
const DAY = 86_400_000;

export interface SyntheticSeries {
  readonly times: number[];
  readonly values: number[];
  /** Indices of the injected spikes and of the first point of each injected level shift. */
  readonly anomalies: number[];
  /** Indices of every point an injection touched (spikes and whole level shifts). */
  readonly touched: Set<number>;
}

/**
 * `days` of 5-minute points: 100 + 20·sin(2π·hour/24) + N(0, 2), from
 * 2026-01-05 (a Monday), with spikes of ±25 and one-hour level shifts of +30
 * after day 3 at seeded positions (about 4 injections per day; fewer when they do not fit).
 */
export function syntheticSeries(seed: number, days = 30, spikes = 40, shifts = 8): SyntheticSeries {
  const random = seededRandom(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const start = Date.UTC(2026, 0, 5);
  const count = (days * DAY) / FIVE_MINUTES;
  const times: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const time = start + i * FIVE_MINUTES;
    const hour = (time % DAY) / 3_600_000;
    times.push(time);
    values.push(100 + 20 * Math.sin((2 * Math.PI * hour) / 24) + 2 * gaussian());
  }
  const anomalies: number[] = [];
  const touched = new Set<number>();
  const firstEligible = (3 * DAY) / FIVE_MINUTES;
  const free = (from: number, to: number) => {
    for (let j = from - 24; j < to + 24; j++) if (touched.has(j)) return false;
    return true;
  };
  let attempts = 0;
  const room = count - firstEligible - 20;
  while (anomalies.length < spikes && room > 0 && attempts++ < 10_000) {
    const i = firstEligible + Math.floor(random() * (count - firstEligible - 20));
    if (!free(i, i + 1)) continue;
    values[i] = (values[i] as number) + (random() < 0.5 ? -25 : 25);
    anomalies.push(i);
    touched.add(i);
  }
  for (let placed = 0; placed < shifts && room > 0 && attempts++ < 20_000; ) {
    const i = firstEligible + Math.floor(random() * (count - firstEligible - 20));
    if (!free(i, i + 12)) continue;
    for (let j = i; j < i + 12; j++) {
      values[j] = (values[j] as number) + 30;
      touched.add(j);
    }
    anomalies.push(i);
    placed++;
  }
  anomalies.sort((a, b) => a - b);
  return { times, values, anomalies, touched };
}

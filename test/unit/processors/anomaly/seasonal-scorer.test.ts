import { describe, expect, it } from 'vitest';
import { SeasonalScorer, type SeasonalScorerOptions } from '../../../../processors/anomaly/index.js';
import { ConfigError } from '../../../../topology/errors.js';
import { FIVE_MINUTES, type SyntheticSeries, syntheticSeries } from './synthetic-series.js';

const DAY_POINTS = 86_400_000 / FIVE_MINUTES;

function scoreAll(series: SyntheticSeries, options: SeasonalScorerOptions = {}, upTo = series.values.length) {
  const scorer = new SeasonalScorer(options);
  const scores: number[] = [];
  for (let i = 0; i < upTo; i++)
    scores.push(scorer.score(series.times[i] as number, series.values[i] as number));
  return { scorer, scores };
}

const share = (xs: number[], keep: (x: number) => boolean) => xs.filter(keep).length / xs.length;

describe('SeasonalScorer on 30 days of 5-minute points (daily sinusoid + noise, spikes and level shifts injected)', () => {
  // measured: of the 48 injected anomalies (40 spikes, the first point of 8 level shifts), seeds 1 and 3 score
  // all > 0.99, seed 2 all but one > 0.9 (a spike a day after a level shift in the same hour: 0.52); mean
  // 0.988-1.000. After the first day, 99.94-100 % of normal points score < 0.5, none > 0.9 (of 8216).
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: injected anomalies score high, normal points low`, () => {
      const series = syntheticSeries(seed);
      const { scores } = scoreAll(series);
      const anomalous = series.anomalies.map((i) => scores[i] as number);
      const normal = scores.filter((_, i) => i >= DAY_POINTS && !series.touched.has(i));
      expect(share(anomalous, (s) => s > 0.9)).toBeGreaterThanOrEqual(0.95);
      expect(anomalous.reduce((a, b) => a + b, 0) / anomalous.length).toBeGreaterThan(0.95);
      expect(share(normal, (s) => s < 0.5)).toBeGreaterThanOrEqual(0.99);
      expect(share(normal, (s) => s > 0.9)).toBeLessThan(0.002);
    });
  }

  it('every score is in [0, 1], and 0 until a baseline has seen warmup points', () => {
    const series = syntheticSeries(4, 3);
    const { scores } = scoreAll(series, { warmup: 5 });
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(scores[5]).toBeGreaterThan(0);
  });

  it('one outlier does not poison the baseline: the next normal point scores low', () => {
    const scorer = new SeasonalScorer({ seasonality: 'none' });
    for (let i = 0; i < 200; i++) scorer.score(i, 10 + (i % 2 === 0 ? 1 : -1));
    expect(scorer.score(200, 1_000_000)).toBeGreaterThan(0.99);
    expect(scorer.score(201, 11)).toBeLessThan(0.1);
    expect(scorer.score(202, 20)).toBeGreaterThan(0.99);
  });

  it('a lasting level shift is learnt: after a while, the new level scores low', () => {
    const scorer = new SeasonalScorer({ seasonality: 'none' });
    for (let i = 0; i < 200; i++) scorer.score(i, 10 + (i % 2 === 0 ? 1 : -1));
    expect(scorer.score(200, 30)).toBeGreaterThan(0.99);
    let last = 1;
    for (let i = 201; i < 400; i++) last = scorer.score(i, 30 + (i % 2 === 0 ? 1 : -1));
    expect(last).toBeLessThan(0.1);
  });
});

describe('SeasonalScorer guarantees', () => {
  it('no look-ahead: the score of point i is the same whether or not later points exist', () => {
    const series = syntheticSeries(5, 10);
    const full = scoreAll(series).scores;
    for (const cut of [1, 300, 1_234, 2_000])
      expect(scoreAll(series, {}, cut).scores).toEqual(full.slice(0, cut));
  });

  it('bounded state: its JSON is about the same size after 8 days (every slot seen) and after 30', () => {
    for (const seasonality of ['daily', 'weekly', 'none'] as const) {
      const series = syntheticSeries(6);
      const sizes = [8, 30].map(
        (days) => JSON.stringify(scoreAll(series, { seasonality }, days * DAY_POINTS).scorer.toJSON()).length,
      );
      expect(Math.abs((sizes[0] as number) - (sizes[1] as number)), seasonality).toBeLessThan(
        0.1 * (sizes[0] as number),
      );
      const slots = scoreAll(series, { seasonality }, 10).scorer.toJSON().slots.length;
      expect(slots).toBe(seasonality === 'daily' ? 24 : seasonality === 'weekly' ? 168 : 1);
    }
  });

  it('is deterministic: the same series gives the same scores', () => {
    const series = syntheticSeries(7, 5);
    expect(scoreAll(series).scores).toEqual(scoreAll(series).scores);
  });

  it('its state round-trips through JSON: a restored scorer continues with the same scores', () => {
    const series = syntheticSeries(8, 5);
    const full = scoreAll(series, { seasonality: 'weekly' }).scores;
    const half = 700;
    const first = scoreAll(series, { seasonality: 'weekly' }, half).scorer;
    const restored = SeasonalScorer.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    const rest = series.values.slice(half).map((v, k) => restored.score(series.times[half + k] as number, v));
    expect(rest).toEqual(full.slice(half));
  });

  it('over(state) scores in the state itself: a point at a time from a stored state, as one scorer would', () => {
    const series = syntheticSeries(9, 3);
    for (const seasonality of ['daily', 'none'] as const) {
      const full = scoreAll(series, { seasonality }).scores;
      const state = new SeasonalScorer({ seasonality }).toJSON();
      const stepwise = series.values.map((v, k) =>
        SeasonalScorer.over(state, {}).score(series.times[k] as number, v),
      );
      expect(stepwise).toEqual(full);
      expect(SeasonalScorer.fromJSON(state).toJSON().slots).toEqual(state.slots);
    }
    expect(() => SeasonalScorer.over({ ...new SeasonalScorer().toJSON(), slots: [] })).toThrow(/slots/);
  });

  it('checks its options, naming the bad one', () => {
    expect(() => new SeasonalScorer({ alpha: 0 })).toThrow(ConfigError);
    expect(() => new SeasonalScorer({ alpha: 1.5 })).toThrow(/alpha/);
    expect(() => new SeasonalScorer({ warmup: 0 })).toThrow(/warmup/);
    expect(() => new SeasonalScorer({ seasonality: 'hourly' as never })).toThrow(/seasonality/);
  });
});

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_JUDGE_CONFIG,
  LatencyReservoir,
  LatencySketch,
  resolveJudgeConfig,
} from '../../../../processors/canary/judge/index.js';
import {
  alwaysValidPValue,
  criticalZ,
  sequentialDecision,
} from '../../../../processors/canary/judge/internal/always-valid.js';
import { probabilityExceeds } from '../../../../processors/canary/judge/internal/beta-exceedance.js';
import {
  differenceOrderStatistic,
  mannWhitneyAtShift,
} from '../../../../processors/canary/judge/internal/mann-whitney.js';
import { poolLatencies } from '../../../../processors/canary/judge/internal/pooled-latencies.js';
import {
  countOverdispersion,
  medianHeterogeneity,
  twoSampleWidening,
  widenedZ,
} from '../../../../processors/canary/judge/internal/window-heterogeneity.js';
import { seededRandom } from '../../../../processors/seeded-random.js';

const sorted = (values: readonly number[]): Float64Array => Float64Array.from(values).sort();

describe('Mann-Whitney U', () => {
  // reference: scipy.stats.mannwhitneyu(x, y, method='asymptotic', use_continuity=False)
  const x = sorted([3, 5, 5, 7, 9, 9, 9, 12, 15, 20]);
  const y = sorted([1, 2, 5, 5, 6, 9, 10, 11]);

  it('counts pairs with ties as halves and corrects the variance for ties, as scipy does', () => {
    const r = mannWhitneyAtShift(x, y, 0);
    expect(r.u).toBe(53.5);
    expect(r.z).toBeCloseTo(1.212080264220377, 10);
  });

  it('tests a shift by moving the canary down', () => {
    const r = mannWhitneyAtShift(x, y, 2);
    expect(r.u).toBe(45);
    expect(r.z).toBeCloseTo(0.4468049412577699, 10);
  });

  it('gives z 0 when every value ties', () => {
    expect(mannWhitneyAtShift(sorted([4, 4]), sorted([4, 4, 4]), 0).z).toBe(0);
  });

  it('finds order statistics of the pairwise differences without listing them', () => {
    expect(differenceOrderStatistic(x, y, 40, 0, 1, 1e-9)).toBeCloseTo(3, 6); // Hodges-Lehmann: median of the 80
    expect(differenceOrderStatistic(x, y, 20, 0, 1, 1e-9)).toBeCloseTo(-1, 6);
    expect(differenceOrderStatistic(x, y, 61, 0, 1, 1e-9)).toBeCloseTo(7, 6);
    const random = seededRandom(3);
    const a = sorted(Array.from({ length: 57 }, () => random() * 10));
    const b = sorted(Array.from({ length: 43 }, () => random() * 7));
    const all: number[] = [];
    for (const u of a) for (const v of b) all.push(u - v);
    all.sort((p, q) => p - q);
    for (const k of [1, 100, 1225, 2451, 2000, 2451]) {
      expect(differenceOrderStatistic(a, b, k, 100, 0.01, 1e-7)).toBeCloseTo(all[k - 1]!, 5);
    }
  });
});

describe('always-valid decisions (mixture SPRT)', () => {
  it('puts the decision line where the p-value reaches alpha, above the one-look line', () => {
    for (const c of [0.5, 10, 1000]) {
      const z = criticalZ(c, 0.01);
      expect(alwaysValidPValue(z, c)).toBeCloseTo(0.01, 6);
      expect(z).toBeGreaterThan(2.33);
    }
  });

  it('decides fail, pass or neither from the sign and size of z', () => {
    expect(sequentialDecision(6, 0.01, 0.05, 0.01).status).toBe('fail');
    expect(sequentialDecision(-6, 0.01, 0.05, 0.01).status).toBe('pass');
    expect(sequentialDecision(2.5, 0.01, 0.05, 0.01).status).toBe('inconclusive');
    expect(sequentialDecision(Number.NaN, 0, 0.05, 0.01).status).toBe('inconclusive');
  });

  it('keeps false alarms under alpha for a null random walk looked at 50 times, where one-look tests inflate', () => {
    const random = seededRandom(11);
    const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    let alarms = 0;
    let oneLookAlarms = 0;
    const runs = 1000;
    for (let r = 0; r < runs; r++) {
      let sum = 0;
      let alarmed = false;
      let oneLookAlarmed = false;
      for (let n = 1; n <= 50; n++) {
        sum += normal();
        const z = sum / Math.sqrt(n);
        if (z > 2.326) oneLookAlarmed = true;
        if (!alarmed && alwaysValidPValue(z, 0.25 * n) <= 0.01) alarmed = true;
      }
      if (alarmed) alarms++;
      if (oneLookAlarmed) oneLookAlarms++;
    }
    expect(alarms / runs).toBeLessThanOrEqual(0.01);
    expect(oneLookAlarms / runs).toBeGreaterThan(0.05);
  });
});

describe('beta-binomial posterior comparison', () => {
  const beta = (a: number, b: number): number => {
    const f = (k: number): number => (k <= 1 ? 1 : k * f(k - 1));
    return (f(a - 1) * f(b - 1)) / f(a + b - 1);
  };
  /** P(X > Y), X ~ Beta(a1, b1), Y ~ Beta(a2, b2), integer a1 (closed form, Evan Miller). */
  const exact = (a1: number, b1: number, a2: number, b2: number): number => {
    let sum = 0;
    for (let i = 0; i < a1; i++) sum += beta(a2 + i, b1 + b2) / ((b1 + i) * beta(1 + i, b1) * beta(a2, b2));
    return sum;
  };

  it('matches the closed form with no tolerance', () => {
    for (const [a1, b1, a2, b2] of [
      [3, 30, 5, 40],
      [8, 20, 2, 25],
      [1, 60, 1, 60],
    ] as const) {
      expect(probabilityExceeds({ alpha: a1, beta: b1 }, { alpha: a2, beta: b2 }, 0, 0)).toBeCloseTo(
        exact(a1, b1, a2, b2),
        5,
      );
    }
  });

  it('matches a seeded Monte Carlo with a relative and an absolute tolerance', () => {
    const random = seededRandom(5);
    // Beta(a, b) with integer shapes: the a-th smallest of a + b − 1 uniforms
    const draw = (a: number, b: number): number => {
      const u = Array.from({ length: a + b - 1 }, random).sort((p, q) => p - q);
      return u[a - 1]!;
    };
    const draws = 20_000;
    let hits = 0;
    for (let i = 0; i < draws; i++) if (draw(6, 30) > 1.5 * draw(3, 40) + 0.02) hits++;
    expect(probabilityExceeds({ alpha: 6, beta: 30 }, { alpha: 3, beta: 40 }, 0.5, 0.02)).toBeCloseTo(
      hits / draws,
      2,
    );
  });

  it('is one half for the same posterior, and smaller with more tolerance', () => {
    const p = { alpha: 50, beta: 5000 };
    expect(probabilityExceeds(p, p, 0, 0)).toBeCloseTo(0.5, 5);
    expect(probabilityExceeds(p, p, 0.5, 0.001)).toBeLessThan(0.05);
    // very unequal widths: integrates over the narrower posterior
    expect(probabilityExceeds({ alpha: 101, beta: 9901 }, { alpha: 2, beta: 100 }, 0, 0)).toBeCloseTo(
      1 - probabilityExceeds({ alpha: 2, beta: 100 }, { alpha: 101, beta: 9901 }, 0, 0),
      5,
    );
  });
});

describe('window heterogeneity', () => {
  const random = seededRandom(9);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const windows = (drift: number) =>
    Array.from({ length: 10 }, (_, w) => {
      const shift = drift * normal();
      return {
        windowId: `w${w}`,
        requestCount: 500,
        errorCount: 0,
        latencySamples: Array.from({ length: 500 }, () => 100 * Math.exp(0.4 * normal() + shift)),
        latencySketch: new LatencySketch(),
      };
    });

  it('is about 1 for windows that look alike and large for windows that drift', () => {
    const alike = poolLatencies('baseline', windows(0), 3);
    const drifting = poolLatencies('baseline', windows(0.15), 3);
    expect(medianHeterogeneity(alike.windowMedians, alike.cleanedLog).factor).toBeLessThan(2);
    expect(medianHeterogeneity(drifting.windowMedians, drifting.cleanedLog).factor).toBeGreaterThan(10);
  });

  it('sees error bursts as over-dispersion', () => {
    const steady = Array.from({ length: 8 }, () => ({ events: 5, trials: 500 }));
    const bursts = [0, 0, 20, 0, 0, 18, 0, 2].map((events) => ({ events, trials: 500 }));
    expect(countOverdispersion(steady).factor).toBe(1);
    expect(countOverdispersion(bursts).factor).toBeGreaterThan(5);
    expect(countOverdispersion([{ events: 0, trials: 500 }]).factor).toBe(1);
  });

  it('widens z, more so when the scatter was estimated from few windows', () => {
    const none = { factor: 1, df: Number.POSITIVE_INFINITY };
    expect(widenedZ(4, twoSampleWidening(none, none, 1, 1))).toBe(4);
    const few = twoSampleWidening(none, { factor: 9, df: 2 }, 1, 1);
    const many = twoSampleWidening(none, { factor: 9, df: 200 }, 1, 1);
    expect(few.inflation).toBe(5);
    expect(Math.abs(widenedZ(10, many) - 10 / Math.sqrt(5))).toBeLessThan(0.1);
    expect(widenedZ(10, few)).toBeLessThan(widenedZ(10, many));
    expect(widenedZ(-10, few)).toBe(-widenedZ(10, few));
  });
});

describe('pooled latencies', () => {
  it('drops outliers beyond quartile ± 3 IQR and keeps per-window medians', () => {
    const base = Array.from({ length: 100 }, (_, i) => 100 + i);
    const pooled = poolLatencies(
      'canary',
      [
        {
          windowId: 'a',
          requestCount: 101,
          errorCount: 0,
          latencySamples: [...base, 5000],
          latencySketch: new LatencySketch(),
        },
        {
          windowId: 'b',
          requestCount: 4,
          errorCount: 0,
          latencySamples: [7, 1, 3, 5],
          latencySketch: new LatencySketch(),
        },
      ],
      3,
    );
    expect(pooled.sorted.length).toBe(105);
    expect(pooled.outliersRemoved).toBe(1);
    expect(pooled.windowMedians.map((w) => Math.round(Math.exp(w.median)))).toEqual([150, 4]);
  });

  it('names the window of a bad sample', () => {
    expect(() =>
      poolLatencies(
        'baseline',
        [
          {
            windowId: 'w7',
            requestCount: 1,
            errorCount: 0,
            latencySamples: [-1],
            latencySketch: new LatencySketch(),
          },
        ],
        3,
      ),
    ).toThrow(/baseline window w7: latency samples must be finite and >= 0/);
  });
});

describe('LatencySketch', () => {
  const random = seededRandom(21);
  const latencies = Array.from(
    { length: 5000 },
    () => Math.round(100 * Math.exp(-Math.log(1 - random()))) / 10,
  );

  it('answers quantiles within 1% of an actual value', () => {
    const sketch = new LatencySketch();
    for (const v of latencies) sketch.add(v);
    const exact = [...latencies].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const truth = exact[Math.floor(q * (exact.length - 1))]!;
      expect(Math.abs(sketch.quantile(q) - truth) / truth).toBeLessThanOrEqual(0.0101);
    }
    expect(sketch.count).toBe(5000);
    expect(new LatencySketch().quantile(0.5)).toBeNaN();
  });

  it('merges exactly: two halves answer as the whole', () => {
    const whole = new LatencySketch();
    const first = new LatencySketch();
    const second = new LatencySketch();
    latencies.forEach((v, i) => {
      whole.add(v);
      (i % 2 === 0 ? first : second).add(v);
    });
    const merged = LatencySketch.merged([first, second]);
    for (const q of [0.01, 0.5, 0.99, 1]) expect(merged.quantile(q)).toBe(whole.quantile(q));
    expect(merged.count).toBe(whole.count);
    expect(first.count).toBe(2500);
  });

  it('round-trips through compact bytes, zeros and summary included', () => {
    const sketch = new LatencySketch();
    for (const v of latencies) sketch.add(v);
    sketch.add(0, 3);
    const bytes = sketch.toBytes();
    expect(bytes.length).toBeLessThan(1500);
    const back = LatencySketch.fromBytes(bytes);
    for (const q of [0, 0.0001, 0.5, 0.999, 1]) expect(back.quantile(q)).toBe(sketch.quantile(q));
    expect([back.count, back.min, back.max, back.sum]).toEqual([
      sketch.count,
      sketch.min,
      sketch.max,
      sketch.sum,
    ]);
    expect(LatencySketch.fromBytes(new LatencySketch().toBytes()).count).toBe(0);
  });

  it('refuses bad input and bytes it did not write', () => {
    const sketch = new LatencySketch();
    expect(() => sketch.add(-1)).toThrow(/finite number >= 0/);
    expect(() => sketch.add(5, 0.5)).toThrow(/whole number/);
    expect(() => sketch.quantile(1.5)).toThrow(/within 0..1/);
    sketch.add(10);
    const bytes = sketch.toBytes();
    expect(() => LatencySketch.fromBytes(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
    const otherVersion = Uint8Array.from(bytes);
    otherVersion[0] = 9;
    expect(() => LatencySketch.fromBytes(otherVersion)).toThrow(/format 9/);
  });
});

describe('LatencyReservoir', () => {
  it('keeps a uniform sample of at most capacity (Algorithm R)', () => {
    const kept = new Array<number>(100).fill(0);
    const random = seededRandom(4);
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      const r = new LatencyReservoir(10, random);
      for (let v = 0; v < 100; v++) r.add(v);
      expect(r.samples.length).toBe(10);
      expect(r.seen).toBe(100);
      for (const v of r.samples) kept[v]!++;
    }
    // each value kept with probability 0.1: 200 ± 13 times
    for (const k of kept) {
      expect(k).toBeGreaterThan(140);
      expect(k).toBeLessThan(260);
    }
  });

  it('is reproducible with the same seed and survives a restart through its state', () => {
    const fill = (seed: number): LatencyReservoir => {
      const r = new LatencyReservoir(50, seededRandom(seed));
      for (let v = 0; v < 1000; v++) r.add(v);
      return r;
    };
    expect(fill(1).samples).toEqual(fill(1).samples);
    const restored = new LatencyReservoir(50, seededRandom(2), fill(1).toState());
    expect(restored.samples).toEqual(fill(1).samples);
    expect(restored.seen).toBe(1000);
    expect(() => new LatencyReservoir(5, seededRandom(1), fill(1).toState())).toThrow(
      /does not fit capacity 5/,
    );
  });

  it('merges in proportion to what each side has seen', () => {
    const random = seededRandom(8);
    const big = new LatencyReservoir(100, random);
    const small = new LatencyReservoir(100, random);
    for (let i = 0; i < 900; i++) big.add(1);
    for (let i = 0; i < 100; i++) small.add(2);
    big.merge(small);
    expect(big.seen).toBe(1000);
    expect(big.samples.length).toBe(100);
    const fromSmall = big.samples.filter((v) => v === 2).length;
    expect(fromSmall).toBeGreaterThan(3);
    expect(fromSmall).toBeLessThan(20);
    // both still whole and fitting together: exact union
    const a = new LatencyReservoir(10, random);
    const b = new LatencyReservoir(10, random);
    for (const v of [1, 2, 3]) a.add(v);
    for (const v of [4, 5]) b.add(v);
    a.merge(b);
    expect([...a.samples].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('judge config', () => {
  it('fills defaults, takes partial nested overrides and names a bad field', () => {
    expect(resolveJudgeConfig()).toEqual(DEFAULT_JUDGE_CONFIG);
    const c = resolveJudgeConfig({ latencyTolerance: 0.05, errorTolerance: { absolute: 0.002 } });
    expect(c.latencyTolerance).toBe(0.05);
    expect(c.errorTolerance).toEqual({ relative: 0.5, absolute: 0.002 });
    expect(() => resolveJudgeConfig({ confidence: 1.5 })).toThrow(/confidence must be within/);
    expect(() => resolveJudgeConfig({ minWindows: 0 })).toThrow(/minWindows must be a whole number/);
    expect(() => resolveJudgeConfig({ errorPrior: { alpha: 0.5 } })).toThrow(/errorPrior.alpha/);
    expect(() =>
      resolveJudgeConfig({
        weights: { 'latency-shift': 0, 'error-rate': 0, 'latency-tail': 0, 'latency-dispersion': 0 },
      }),
    ).toThrow(/at least one of weights/);
  });
});

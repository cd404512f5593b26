/**
 * The multivariate core of the anomaly detectors: Half-Space Trees (Tan, Ting
 * & Liu, "Fast anomaly detection for streaming data", IJCAI 2011), online, in
 * one pass, without look-ahead, in memory fixed by the options.
 *
 * Points are vectors of `dimensions` numbers, each expected already scaled
 * into [0, 1] (a value outside is clamped to it; a non-finite one is a
 * RangeError).
 *
 * The model is `trees` complete binary trees of depth `depth`, built from the
 * seed before any data: each tree draws, per dimension, a point `sq` in
 * [0, 1] and works on the range `sq ± 2·max(sq, 1 - sq)` (the paper's random
 * perturbation, so trees differ); each inner node splits a random dimension
 * at the middle of its node's range. Every node counts the points that pass
 * through it: the reference mass `r` (the last complete window of
 * `windowSize` points) and the latest mass `l` (the window being filled).
 * When the latest window is full it becomes the reference, and a new one
 * starts empty.
 *
 * A point's path in a tree stops at a leaf, or at the first node whose
 * reference mass is at most `sizeLimit`; the paper's mass score of the tree
 * is `r(node) · 2^depth(node)` there (high = dense = normal).
 *
 * Calibration. That mass has no fixed scale: it grows with how concentrated
 * the data are, so the paper's `1 - mass / (trees · windowSize · 2^depth)`
 * puts normal points anywhere from about 0.4 to 0.99, depending on the data,
 * and no threshold carries over. So the detector calibrates the point's
 * rarity `-ln(1 + mass)` against the rarity of the points it recently scored,
 * as the univariate scorer does with values: a robust baseline
 * (robust-baseline.ts: EWMA level and capped mean absolute deviation, weight
 * 2 / (windowSize + 1), so it follows about one window; an outlier's pull is
 * capped) and the same logistic of the robust z (anomaly-score.ts: z = 4
 * scores 0.5, 5 scores 0.88, 6 scores 0.98). The logarithm makes "ten times
 * sparser than usual" the same step whatever the usual density, and tames the
 * mass's long upper tail; the z is signed, so a point denser than usual
 * scores about 0. The score thus reads "how unusually sparse is this point's
 * region, compared with the recent traffic", on the same scale as the
 * univariate scorer's, whatever the data's spread.
 *
 * The score of a point is against the reference and the calibration as they
 * were *before* the point; only then is the point learnt (its path into the
 * latest mass, its rarity into the calibration). Until the first window is
 * complete there is no reference and the score is 0; the calibration then
 * needs 30 scored points, during which the score is 0 too.
 *
 * Everything lives in flat typed arrays (no object per node). The state is a
 * compact, self-contained byte array (`toBytes` / `HalfSpaceTrees.fromBytes`):
 * the trees' structure and both masses, whose size depends on the options
 * only (33,181 bytes with the defaults on 6 dimensions).
 *
 * @example
 * const detector = new HalfSpaceTrees({ dimensions: 6, seed: 42 });
 * for (const point of points) console.log(detector.scoreAndLearn(point));
 */

import { ConfigError } from '../../topology/errors.js';
import { seededRandom } from '../seeded-random.js';
import { anomalyScore, DEFAULT_SCORE_MAPPING } from './anomaly-score.js';
import {
  type Baseline,
  type BaselineParams,
  emptyBaseline,
  isWarm,
  scaleOf,
  updateBaseline,
} from './robust-baseline.js';

export interface HalfSpaceTreesOptions {
  /** Length of each point, an integer in [1, 65535]. */
  readonly dimensions: number;
  /** Trees in the ensemble, an integer >= 1. Default 25. */
  readonly trees?: number;
  /** Depth of every tree, an integer in [1, 16]: a tree has 2^(depth+1) - 1 nodes. Default 8. */
  readonly depth?: number;
  /** Points per reference window, an integer >= 1. Default 250. */
  readonly windowSize?: number;
  /** A path stops at the first node whose reference mass is at most this. Default 0.1 × windowSize. */
  readonly sizeLimit?: number;
  /** Seed of the trees' structure, an integer in [0, 2^32): same seed and same points give the same scores. */
  readonly seed: number;
}

/** A point's score with its parts, for inspection. */
export interface HalfSpacePointScore {
  /** The anomaly score in [0, 1] (1 = most anomalous); 0 until the reference and calibration exist. */
  readonly score: number;
  /** The rarity -ln(1 + mass) in robust z units above its recent level (0 until calibrated). */
  readonly z: number;
  /** The paper's mass score: the sum over the trees of r(node) · 2^depth(node) (high = normal). */
  readonly mass: number;
}

/** Scored points the calibration baseline must have seen before scores leave 0. */
const CALIBRATION_WARMUP = 30;
/** Added to the calibration's scale, so that a constant rarity does not divide by zero. */
const EPSILON = 1e-9;
/** An upper bound on trees × nodes per tree, so that a typo cannot allocate gigabytes. */
const MAX_NODES = 2 ** 25;

const MAGIC = 0x48535431; // 'HST1'
const HEADER_BYTES = 56;

interface Shape {
  readonly dimensions: number;
  readonly trees: number;
  readonly depth: number;
  readonly windowSize: number;
  readonly sizeLimit: number;
  readonly seed: number;
}

function shapeOf(options: HalfSpaceTreesOptions): Shape {
  const { dimensions, trees = 25, depth = 8, windowSize = 250, seed } = options;
  if (!(Number.isInteger(dimensions) && dimensions >= 1 && dimensions <= 65_535))
    throw new ConfigError(`dimensions: expected an integer in [1, 65535], got ${dimensions}`);
  if (!(Number.isInteger(trees) && trees >= 1))
    throw new ConfigError(`trees: expected an integer >= 1, got ${trees}`);
  if (!(Number.isInteger(depth) && depth >= 1 && depth <= 16))
    throw new ConfigError(`depth: expected an integer in [1, 16], got ${depth}`);
  if (!(Number.isInteger(windowSize) && windowSize >= 1 && windowSize <= 0xffff_ffff))
    throw new ConfigError(`windowSize: expected an integer in [1, 2^32), got ${windowSize}`);
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff))
    throw new ConfigError(`seed: expected an integer in [0, 2^32), got ${seed}`);
  const sizeLimit = options.sizeLimit ?? 0.1 * windowSize;
  if (!(Number.isFinite(sizeLimit) && sizeLimit >= 0))
    throw new ConfigError(`sizeLimit: expected a finite number >= 0, got ${sizeLimit}`);
  if (trees * 2 ** (depth + 1) > MAX_NODES)
    throw new ConfigError(
      `trees × 2^(depth+1): expected at most 2^25 nodes, got ${trees} trees of depth ${depth}`,
    );
  return { dimensions, trees, depth, windowSize, sizeLimit, seed };
}

/** Bytes per stored integer: the smallest of 1, 2, 4 that holds `max`. */
const widthFor = (max: number): 1 | 2 | 4 => (max <= 0xff ? 1 : max <= 0xffff ? 2 : 4);

function writeUints(view: DataView, offset: number, values: ArrayLike<number>, width: 1 | 2 | 4): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (width === 1) view.setUint8(offset, v);
    else if (width === 2) view.setUint16(offset, v, true);
    else view.setUint32(offset, v, true);
    offset += width;
  }
  return offset;
}

function readUints(
  view: DataView,
  offset: number,
  into: Uint16Array | Uint32Array,
  width: 1 | 2 | 4,
  max: number,
  what: string,
): number {
  for (let i = 0; i < into.length; i++) {
    const v =
      width === 1
        ? view.getUint8(offset)
        : width === 2
          ? view.getUint16(offset, true)
          : view.getUint32(offset, true);
    if (v > max)
      throw new ConfigError(`half-space trees state: ${what} ${v} at ${i}, expected at most ${max}`);
    into[i] = v;
    offset += width;
  }
  return offset;
}

export class HalfSpaceTrees {
  readonly dimensions: number;
  readonly trees: number;
  readonly depth: number;
  readonly windowSize: number;
  readonly sizeLimit: number;
  readonly seed: number;
  private readonly nodesPerTree: number;
  private readonly innerPerTree: number;
  /** Per tree and dimension: the centre `sq` of the tree's work range. */
  private readonly centres: Float64Array;
  /** Per tree and inner node (heap order: children of i are 2i+1, 2i+2): the split dimension. */
  private readonly splitDimension: Uint16Array;
  /** Per tree and inner node: the split value (derived from the centres and split dimensions). */
  private readonly splitValue: Float64Array;
  /** Per tree and node: the reference mass r. */
  private reference: Uint32Array;
  /** Per tree and node: the latest mass l. */
  private latest: Uint32Array;
  /** Points in the latest window. */
  private filled = 0;
  /** Completed windows (saturates at 2^32 - 1); the reference exists when > 0. */
  private windows = 0;
  /** The calibration: a robust baseline of the scored points' rarity -ln(1 + mass). */
  private readonly calibration: Baseline = emptyBaseline();
  private readonly calibrationParams: BaselineParams;

  constructor(options: HalfSpaceTreesOptions) {
    const shape = shapeOf(options);
    this.dimensions = shape.dimensions;
    this.trees = shape.trees;
    this.depth = shape.depth;
    this.windowSize = shape.windowSize;
    this.sizeLimit = shape.sizeLimit;
    this.seed = shape.seed;
    this.nodesPerTree = 2 ** (this.depth + 1) - 1;
    this.innerPerTree = 2 ** this.depth - 1;
    this.centres = new Float64Array(this.trees * this.dimensions);
    this.splitDimension = new Uint16Array(this.trees * this.innerPerTree);
    this.splitValue = new Float64Array(this.trees * this.innerPerTree);
    this.reference = new Uint32Array(this.trees * this.nodesPerTree);
    this.latest = new Uint32Array(this.trees * this.nodesPerTree);
    this.calibrationParams = { alpha: 2 / (this.windowSize + 1), warmup: CALIBRATION_WARMUP, cap: 3 };
    const random = seededRandom(this.seed);
    for (let t = 0; t < this.trees; t++) {
      for (let q = 0; q < this.dimensions; q++) this.centres[t * this.dimensions + q] = random();
      for (let i = 0; i < this.innerPerTree; i++)
        this.splitDimension[t * this.innerPerTree + i] = Math.floor(random() * this.dimensions);
    }
    this.deriveSplitValues();
  }

  /** Points learnt so far in the window being filled (it becomes the reference at `windowSize`). */
  get pending(): number {
    return this.filled;
  }

  /** Whether a reference window exists and the calibration is warm (before, every score is 0). */
  get ready(): boolean {
    return this.windows > 0 && isWarm(this.calibration, this.calibrationParams);
  }

  /**
   * The anomaly score in [0, 1] (1 = most anomalous) of `x` against the
   * current reference window, then learns `x`. The score of `x` never depends
   * on `x` or on later points. 0 until the first window is complete.
   */
  scoreAndLearn(x: readonly number[]): number {
    this.check(x);
    const hasReference = this.windows > 0;
    const rarity = -Math.log1p(this.walk(x, true));
    const score = hasReference ? this.calibrated(rarity).score : 0;
    // learn only after scoring: the point's own rarity joins the calibration, its path the latest mass
    if (hasReference) updateBaseline(this.calibration, rarity, this.calibrationParams);
    this.filled += 1;
    if (this.filled === this.windowSize) this.roll();
    return score;
  }

  /** The anomaly score of `x` against the current reference window, without learning it. */
  score(x: readonly number[]): number {
    return this.explain(x).score;
  }

  /** The score of `x` with its z and the paper's mass score, without learning it. */
  explain(x: readonly number[]): HalfSpacePointScore {
    this.check(x);
    if (this.windows === 0) return { score: 0, z: 0, mass: 0 };
    const mass = this.walk(x, false);
    return { ...this.calibrated(-Math.log1p(mass)), mass };
  }

  /**
   * The state as bytes (a copy): a header, then per tree its work-range
   * centres (float64) and split dimensions (1 or 2 bytes), then the
   * reference and latest masses (1, 2 or 4 bytes each, by windowSize). All
   * little-endian. The size depends on the options only.
   */
  toBytes(): Uint8Array {
    const dimWidth = widthFor(this.dimensions - 1);
    const massWidth = widthFor(this.windowSize);
    const nodes = this.reference.length;
    const size =
      HEADER_BYTES + this.centres.length * 8 + this.splitDimension.length * dimWidth + 2 * nodes * massWidth;
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, this.dimensions, true);
    view.setUint32(8, this.trees, true);
    view.setUint32(12, this.depth, true);
    view.setUint32(16, this.windowSize, true);
    view.setUint32(20, this.seed, true);
    view.setUint32(24, this.filled, true);
    view.setUint32(28, this.windows, true);
    view.setFloat64(32, this.calibration.n, true);
    view.setFloat64(40, this.calibration.level, true);
    view.setFloat64(48, this.calibration.meanAbsDev, true);
    let offset = HEADER_BYTES;
    for (let i = 0; i < this.centres.length; i++, offset += 8)
      view.setFloat64(offset, this.centres[i] as number, true);
    offset = writeUints(view, offset, this.splitDimension, dimWidth);
    offset = writeUints(view, offset, this.reference, massWidth);
    writeUints(view, offset, this.latest, massWidth);
    return bytes;
  }

  /**
   * A detector that continues from `bytes`, with `options`: dimensions, trees,
   * depth, windowSize and seed must match the state's (a ConfigError names
   * the one that does not); sizeLimit may differ, it only changes scoring.
   */
  static fromBytes(bytes: Uint8Array, options: HalfSpaceTreesOptions): HalfSpaceTrees {
    const detector = new HalfSpaceTrees(options);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < HEADER_BYTES || view.getUint32(0, true) !== MAGIC)
      throw new ConfigError('half-space trees state: not a HST1 state (bad header)');
    const header: [string, number, number][] = [
      ['dimensions', view.getUint32(4, true), detector.dimensions],
      ['trees', view.getUint32(8, true), detector.trees],
      ['depth', view.getUint32(12, true), detector.depth],
      ['windowSize', view.getUint32(16, true), detector.windowSize],
      ['seed', view.getUint32(20, true), detector.seed],
    ];
    for (const [name, stored, given] of header)
      if (stored !== given)
        throw new ConfigError(`half-space trees state: ${name} is ${stored}, options say ${given}`);
    const expected = detector.toBytes().byteLength;
    if (bytes.byteLength !== expected)
      throw new ConfigError(`half-space trees state: ${bytes.byteLength} bytes, expected ${expected}`);
    const filled = view.getUint32(24, true);
    if (filled >= detector.windowSize)
      throw new ConfigError(
        `half-space trees state: ${filled} pending points, expected < ${detector.windowSize}`,
      );
    detector.filled = filled;
    detector.windows = view.getUint32(28, true);
    const n = view.getFloat64(32, true);
    const level = view.getFloat64(40, true);
    const meanAbsDev = view.getFloat64(48, true);
    if (
      !(Number.isInteger(n) && n >= 0 && Number.isFinite(level) && meanAbsDev >= 0 && meanAbsDev < Infinity)
    )
      throw new ConfigError(
        `half-space trees state: bad calibration (n ${n}, level ${level}, spread ${meanAbsDev})`,
      );
    Object.assign(detector.calibration, { n, level, meanAbsDev });
    let offset = HEADER_BYTES;
    for (let i = 0; i < detector.centres.length; i++, offset += 8) {
      const c = view.getFloat64(offset, true);
      if (!(c >= 0 && c <= 1))
        throw new ConfigError(`half-space trees state: centre ${c}, expected in [0, 1]`);
      detector.centres[i] = c;
    }
    const dimWidth = widthFor(detector.dimensions - 1);
    const massWidth = widthFor(detector.windowSize);
    offset = readUints(
      view,
      offset,
      detector.splitDimension,
      dimWidth,
      detector.dimensions - 1,
      'split dimension',
    );
    offset = readUints(view, offset, detector.reference, massWidth, detector.windowSize, 'reference mass');
    readUints(view, offset, detector.latest, massWidth, detector.windowSize, 'latest mass');
    detector.deriveSplitValues();
    return detector;
  }

  private check(x: readonly number[]): void {
    if (x.length !== this.dimensions)
      throw new RangeError(`point: expected ${this.dimensions} numbers, got ${x.length}`);
    for (let q = 0; q < x.length; q++)
      if (!Number.isFinite(x[q])) throw new RangeError(`point[${q}]: expected a finite number, got ${x[q]}`);
  }

  /**
   * Walks `x` down every tree; returns the paper's mass score against the
   * reference (before learning): the sum of r(node) · 2^depth(node) where
   * each path stops. If `learn`, adds `x` to the latest mass of every node on
   * its paths, down to the leaves.
   */
  private walk(x: readonly number[], learn: boolean): number {
    const { depth, sizeLimit, nodesPerTree, innerPerTree, reference, latest, splitDimension, splitValue } =
      this;
    let mass = 0;
    for (let t = 0; t < this.trees; t++) {
      const base = t * nodesPerTree;
      const inner = t * innerPerTree;
      let node = 0;
      let stopped = false;
      for (let k = 0; ; k++) {
        if (!stopped) {
          const r = reference[base + node] as number;
          if (k === depth || r <= sizeLimit) {
            mass += r * 2 ** k;
            stopped = true;
            if (!learn) break;
          }
        }
        if (learn) latest[base + node] = (latest[base + node] as number) + 1;
        if (k === depth) break;
        const v = x[splitDimension[inner + node] as number] as number;
        const clamped = Math.min(1, Math.max(0, v));
        node = clamped < (splitValue[inner + node] as number) ? 2 * node + 1 : 2 * node + 2;
      }
    }
    return mass;
  }

  /** From a rarity to the robust z above the calibration's level, and the anomaly score. */
  private calibrated(rarity: number): { score: number; z: number } {
    if (!isWarm(this.calibration, this.calibrationParams)) return { score: 0, z: 0 };
    const z = (rarity - this.calibration.level) / (scaleOf(this.calibration) + EPSILON);
    return { score: anomalyScore(z, DEFAULT_SCORE_MAPPING), z };
  }

  /** The latest window becomes the reference; a new latest window starts empty. */
  private roll(): void {
    const previous = this.reference;
    this.reference = this.latest;
    this.latest = previous;
    this.latest.fill(0);
    this.filled = 0;
    if (this.windows < 0xffff_ffff) this.windows += 1;
  }

  /** Split values from the trees' work ranges: each inner node halves its range along its split dimension. */
  private deriveSplitValues(): void {
    const d = this.dimensions;
    const lo = new Float64Array(d);
    const hi = new Float64Array(d);
    const split = (t: number, node: number, k: number): void => {
      if (k === this.depth) return;
      const i = t * this.innerPerTree + node;
      const q = this.splitDimension[i] as number;
      const low = lo[q] as number;
      const high = hi[q] as number;
      const middle = (low + high) / 2;
      this.splitValue[i] = middle;
      hi[q] = middle;
      split(t, 2 * node + 1, k + 1);
      hi[q] = high;
      lo[q] = middle;
      split(t, 2 * node + 2, k + 1);
      lo[q] = low;
    };
    for (let t = 0; t < this.trees; t++) {
      for (let q = 0; q < d; q++) {
        const sq = this.centres[t * d + q] as number;
        const range = 2 * Math.max(sq, 1 - sq);
        lo[q] = sq - range;
        hi[q] = sq + range;
      }
      split(t, 0, 0);
    }
  }
}

/**
 * Class-imbalance remedies as pure functions: stratified up-sampling (returns row indices to train on) and
 * smoothed inverse-frequency class weights (for a weighted loss). Declaration data is long-tailed: on the
 * development file 1,230 of 2,372 HS6 classes have fewer than five rows, while the largest have hundreds.
 */
import { createRandom, shuffleInPlace } from '../../shared/math/random';
import { groupByClass } from './split';

export interface UpsampleOptions {
  /** Every class is brought up to at least this many rows. Default 0 (off). */
  minCount?: number;
  /** Every class is brought up to at least this share of the largest class's rows. Default 0 (off). */
  minRatio?: number;
  /**
   * A class grows to at most this multiple of its own size, so a single-row class is not repeated hundreds of
   * times (which teaches the model that one sentence, not the class). Default Infinity (no cap).
   */
  maxMultiplier?: number;
  /** Seed of the draw and of the final shuffle. Default 0. */
  seed?: number;
}

/**
 * Stratified up-sampling: every row is kept once, and each class below its target gets extra copies of its own
 * rows. Whole passes over the class come first and the remainder is drawn without replacement, so the copies are
 * spread as evenly as the count allows. Returns the row indices to train on, shuffled.
 * `rows` restricts the operation to a subset (the training side of a split); default all rows.
 */
export function upsampleMinorityClasses(
  labels: Int32Array,
  options: UpsampleOptions = {},
  rows?: Int32Array,
): Int32Array {
  const minCount = options.minCount ?? 0;
  const minRatio = options.minRatio ?? 0;
  const maxMultiplier = options.maxMultiplier ?? Infinity;
  if (minCount < 0 || minRatio < 0 || minRatio > 1 || !(maxMultiplier >= 1)) {
    throw new Error('upsampling needs minCount ≥ 0, 0 ≤ minRatio ≤ 1 and maxMultiplier ≥ 1');
  }
  const rng = createRandom(options.seed ?? 0);
  const byClass = groupByClass(labels, rows);
  let largest = 0;
  for (const members of byClass.values()) largest = Math.max(largest, members.length);
  const target = Math.max(minCount, Math.ceil(minRatio * largest));
  const out: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    out.push(...members);
    const goal = Math.min(target, Math.floor(members.length * maxMultiplier));
    let missing = goal - members.length;
    while (missing >= members.length) {
      out.push(...members);
      missing -= members.length;
    }
    if (missing > 0) {
      const pool = [...members];
      shuffleInPlace(pool, rng);
      out.push(...pool.slice(0, missing));
    }
  }
  const result = Int32Array.from(out);
  shuffleInPlace(result, rng);
  return result;
}

export interface ClassWeightOptions {
  /** Weight ∝ (count + smoothing)^-power: 1 is plain inverse frequency, 0.5 its square root. Default 0.5. */
  power?: number;
  /** Added to every count, which keeps one-row classes from dominating. Default 1. */
  smoothing?: number;
  /** Upper bound on a weight after normalisation. Default 10. */
  maxWeight?: number;
}

/**
 * Smoothed inverse-frequency class weights, normalised so the average weight over the training rows is 1 (the
 * loss keeps its scale, so the learning rate need not change). Classes without rows get weight 0.
 */
export function classWeights(
  labels: Int32Array,
  numClasses: number,
  options: ClassWeightOptions = {},
  rows?: Int32Array,
): Float32Array {
  const power = options.power ?? 0.5;
  const smoothing = options.smoothing ?? 1;
  const maxWeight = options.maxWeight ?? 10;
  const counts = new Float64Array(numClasses);
  const count = rows ? rows.length : labels.length;
  for (let k = 0; k < count; k++) {
    const label = labels[rows ? rows[k]! : k]!;
    if (label < 0 || label >= numClasses) throw new Error(`label ${label} outside [0, ${numClasses})`);
    counts[label]!++;
  }
  const raw = new Float64Array(numClasses);
  let weightedSum = 0;
  for (let c = 0; c < numClasses; c++) {
    if (counts[c]! === 0) continue;
    raw[c] = Math.pow(counts[c]! + smoothing, -power);
    weightedSum += raw[c]! * counts[c]!;
  }
  const weights = new Float32Array(numClasses);
  if (count === 0) return weights;
  const scale = count / weightedSum;
  for (let c = 0; c < numClasses; c++) weights[c] = Math.min(maxWeight, raw[c]! * scale);
  return weights;
}

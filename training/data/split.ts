/** Seeded stratified train/validation split over integer labels. */
import { createRandom, shuffleInPlace } from '../../shared/math/random';

export interface StratifiedSplitOptions {
  /** Share of each class that goes to validation. Default 0.1. */
  validationFraction?: number;
  /** Seed of the shuffle inside each class. Default 0. */
  seed?: number;
  /**
   * One key per row (e.g. the normalised description); rows with the same key always land on the same side, so a
   * repeated line cannot be learnt in training and "predicted" in validation, which would inflate validation
   * accuracy and make the auto threshold chosen on it too permissive. Default: every row stands alone.
   */
  groupKeys?: readonly string[];
}

export interface SplitIndices {
  /** Row indices, ascending. */
  readonly train: Int32Array;
  /** Row indices, ascending. */
  readonly validation: Int32Array;
}

/**
 * Each class is shuffled and cut on its own, so class shares are the same on both sides. A class with two or more
 * rows (two or more groups, with `groupKeys`) always has at least one on each side, so every such class can be
 * validated and is still trained on; this pushes the realised validation share above `validationFraction` when
 * many classes are tiny. A class with one row goes to training, where it can at least be learnt. A group belongs
 * to the class of its first row.
 */
export function stratifiedSplit(labels: Int32Array, options: StratifiedSplitOptions = {}): SplitIndices {
  const fraction = options.validationFraction ?? 0.1;
  if (!(fraction > 0 && fraction < 1))
    throw new Error(`validationFraction must be in (0, 1), got ${fraction}`);
  const keys = options.groupKeys;
  if (keys && keys.length !== labels.length) throw new Error('groupKeys needs one key per row');
  const rng = createRandom(options.seed ?? 0);
  // Groups as row lists, collected per class in row order.
  const groupsByClass = new Map<number, number[][]>();
  const groupOfKey = new Map<string, number[]>();
  for (let row = 0; row < labels.length; row++) {
    const key = keys?.[row];
    const existing = key === undefined ? undefined : groupOfKey.get(key);
    if (existing) {
      existing.push(row);
      continue;
    }
    const group = [row];
    if (key !== undefined) groupOfKey.set(key, group);
    const label = labels[row]!;
    const groups = groupsByClass.get(label);
    if (groups) groups.push(group);
    else groupsByClass.set(label, [group]);
  }
  const train: number[] = [];
  const validation: number[] = [];
  // Classes in ascending label order, so the rng stream (and the split) depends only on the data and the seed.
  for (const label of [...groupsByClass.keys()].sort((a, b) => a - b)) {
    const groups = groupsByClass.get(label)!;
    shuffleInPlace(groups, rng);
    const rows = groups.reduce((sum, g) => sum + g.length, 0);
    const target = groups.length < 2 ? 0 : Math.min(rows - 1, Math.max(1, Math.round(rows * fraction)));
    let taken = 0;
    groups.forEach((group, i) => {
      const toValidation = taken < target && i < groups.length - 1;
      if (toValidation) taken += group.length;
      (toValidation ? validation : train).push(...group);
    });
  }
  return { train: sortedInt32(train), validation: sortedInt32(validation) };
}

/** Row indices of each label present, in row order. */
export function groupByClass(labels: Int32Array, rows?: Int32Array): Map<number, number[]> {
  const byClass = new Map<number, number[]>();
  const count = rows ? rows.length : labels.length;
  for (let k = 0; k < count; k++) {
    const row = rows ? rows[k]! : k;
    const label = labels[row]!;
    const list = byClass.get(label);
    if (list) list.push(row);
    else byClass.set(label, [row]);
  }
  return byClass;
}

function sortedInt32(values: number[]): Int32Array {
  return Int32Array.from(values).sort();
}

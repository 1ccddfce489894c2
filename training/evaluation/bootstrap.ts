/**
 * Paired bootstrap for the accuracy difference of two models scored on the same items: resampling items (not
 * models) keeps the pairing, so item difficulty cancels out and the interval is much tighter than two separate
 * intervals would suggest. The retraining gate uses it to ask whether a challenger is really better.
 */
import { createRandom } from '../../shared/math/random';

export interface PairedBootstrapOptions {
  /** Resamples. Default 2000. */
  resamples?: number;
  /** Two-sided confidence level of the percentile interval. Default 0.95. */
  confidence?: number;
  /** Default 0. */
  seed?: number;
}

export interface PairedBootstrapResult {
  /** accuracy(B) − accuracy(A) on the items as given. */
  readonly difference: number;
  readonly lower: number;
  readonly upper: number;
  /** Share of resamples in which B is not better than A (a one-sided bootstrap p-value for "B > A"). */
  readonly probabilityNotBetter: number;
  readonly resamples: number;
}

export function pairedBootstrapAccuracyDifference(
  correctA: Uint8Array,
  correctB: Uint8Array,
  options: PairedBootstrapOptions = {},
): PairedBootstrapResult {
  const n = correctA.length;
  if (correctB.length !== n) throw new Error('paired bootstrap needs both models scored on the same items');
  if (n === 0) throw new Error('paired bootstrap needs at least one item');
  const resamples = options.resamples ?? 2000;
  const level = options.confidence ?? 0.95;
  const rng = createRandom(options.seed ?? 0);
  // Only the per-item difference matters, so resampling works on one Int8Array of -1 / 0 / +1.
  const delta = new Int8Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    delta[i] = correctB[i]! - correctA[i]!;
    total += delta[i]!;
  }
  const differences = new Float64Array(resamples);
  let notBetter = 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += delta[rng.int(n)]!;
    differences[r] = sum / n;
    if (sum <= 0) notBetter++;
  }
  differences.sort();
  const alpha = (1 - level) / 2;
  return {
    difference: total / n,
    lower: quantileOfSorted(differences, alpha),
    upper: quantileOfSorted(differences, 1 - alpha),
    probabilityNotBetter: notBetter / resamples,
    resamples,
  };
}

/** Linear-interpolation quantile of sorted values. */
export function quantileOfSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) throw new Error('quantile of no values');
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/** Finite-difference gradient checks for float32 kernels: central differences, loss summed in float64. */
import { createRandom } from '../../../../shared/math/random';

/** A fixed random linear functional of an output, so one scalar loss exercises every output element. */
export function probeWeights(length: number, seed: number): Float64Array {
  const rng = createRandom(seed);
  return Float64Array.from({ length }, () => rng.next() * 2 - 1);
}

export function dot(values: Float32Array, weights: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]! * weights[i]!;
  return s;
}

export interface GradientCheck {
  /** Largest |numeric - analytic| / max(1, |numeric|, |analytic|) over the checked entries. */
  worst: number;
  checked: number;
}

/**
 * Compares `analytic` with central differences of `loss` on `count` entries of `values` picked by a seeded
 * generator (all entries when count >= length).
 */
export function checkGradient(
  values: Float32Array,
  analytic: Float32Array,
  loss: () => number,
  options: { eps?: number; count?: number; seed?: number } = {},
): GradientCheck {
  const eps = options.eps ?? 1e-2;
  const count = Math.min(options.count ?? 40, values.length);
  const rng = createRandom(options.seed ?? 7);
  let worst = 0;
  for (let n = 0; n < count; n++) {
    const i = count >= values.length ? n : rng.int(values.length);
    const original = values[i]!;
    values[i] = original + eps;
    const up = loss();
    values[i] = original - eps;
    const down = loss();
    values[i] = original;
    const numeric = (up - down) / (2 * eps);
    const a = analytic[i]!;
    worst = Math.max(worst, Math.abs(numeric - a) / Math.max(1, Math.abs(numeric), Math.abs(a)));
  }
  return { worst, checked: count };
}

export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const rng = createRandom(seed);
  return Float32Array.from({ length }, () => (rng.next() * 2 - 1) * scale);
}

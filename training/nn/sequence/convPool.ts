/**
 * 1-D convolution over packed token vectors with several kernel widths, max-over-time pooling, then bias and
 * ReLU: the Text-CNN feature extractor. Output per sequence is [widths × filters], width-major.
 *
 * Windows: a sequence of T tokens has max(1, T - w + 1) windows of width w, each starting at a token; the
 * positions a window reaches past the end read zeros. So a text shorter than the kernel still has one window,
 * and no window lies wholly in padding. The serving graph reproduces exactly this on a zero-padded grid by
 * masking windows that start at or after max(1, T - w + 1).
 *
 * Cost: every token is projected once by all kernel rows (Z = X · K^T, one dense product), and windows add up
 * slices of Z. Max pooling sends gradient to one window per (sequence, filter), so the backward pass touches
 * only those windows: about 1/T of a dense backward. Both run on WebAssembly SIMD (./simd.ts), which needs
 * inputDim divisible by 4.
 */
import { GradientPairs, multiplyTransposedSimd } from './simd';

export interface ConvShape {
  /** Token vector size. */
  readonly inputDim: number;
  /** Kernel widths, in output order (e.g. [1, 2, 3]). */
  readonly widths: readonly number[];
  /** Filters per width. */
  readonly filters: number;
}

/** Rows of the kernel matrix: sum(widths) × filters, each of inputDim values. */
export function kernelRows(shape: ConvShape): number {
  return shape.widths.reduce((sum, w) => sum + w, 0) * shape.filters;
}

/**
 * Kernel layout [Σw × filters × inputDim]: width by width, then offset j within the window, then filter. Row
 * (width i, offset j, filter f) multiplies the token at window start + j. Bias layout [widths × filters].
 */
export function kernelRowIndex(shape: ConvShape, widthIndex: number, offset: number, filter: number): number {
  let base = 0;
  for (let i = 0; i < widthIndex; i++) base += shape.widths[i]!;
  return (base + offset) * shape.filters + filter;
}

export function pooledSize(shape: ConvShape): number {
  return shape.widths.length * shape.filters;
}

export interface ConvPoolForward {
  /** [size × widths·filters] = relu(max over windows + bias). */
  readonly pooled: Float32Array;
  /** [size × widths·filters] start of the winning window, or -1 where the ReLU is off (no gradient). */
  readonly winners: Int32Array;
}

export function convPoolForward(
  x: Float32Array,
  sequenceOffsets: Int32Array,
  size: number,
  shape: ConvShape,
  kernel: Float32Array,
  bias: Float32Array,
): ConvPoolForward {
  const { inputDim, widths, filters } = shape;
  const rows = kernelRows(shape);
  const tokens = sequenceOffsets[size]!;
  const projected = new Float32Array(tokens * rows);
  multiplyTransposedSimd(x, kernel, projected, tokens, inputDim, rows);
  const outWidth = pooledSize(shape);
  const pooled = new Float32Array(size * outWidth);
  const winners = new Int32Array(size * outWidth);
  const best = new Float32Array(filters);
  const bestAt = new Int32Array(filters);
  // Offset j of a window reads token p + j at kernel block (base + j): one stride covers both.
  const step = rows + filters;
  for (let b = 0; b < size; b++) {
    const first = sequenceOffsets[b]!;
    const length = sequenceOffsets[b + 1]! - first;
    let base = 0;
    for (let i = 0; i < widths.length; i++) {
      const w = widths[i]!;
      const windows = Math.max(1, length - w + 1);
      best.fill(-Infinity);
      for (let p = 0; p < windows; p++) {
        const reach = Math.min(w, length - p);
        const z = (first + p) * rows + base * filters;
        for (let f = 0; f < filters; f++) {
          let score = 0;
          for (let j = 0; j < reach; j++) score += projected[z + j * step + f]!;
          if (score > best[f]!) {
            best[f] = score;
            bestAt[f] = p;
          }
        }
      }
      const o = b * outWidth + i * filters;
      for (let f = 0; f < filters; f++) {
        const v = best[f]! + bias[i * filters + f]!;
        if (v > 0) {
          pooled[o + f] = v;
          winners[o + f] = bestAt[f]!;
        } else {
          pooled[o + f] = 0;
          winners[o + f] = -1;
        }
      }
      base += w;
    }
  }
  return { pooled, winners };
}

/**
 * Backward through pooling and convolution. Accumulates into dX [tokens × inputDim], dKernel and dBias (callers
 * zero them per batch).
 */
export function convPoolBackward(
  x: Float32Array,
  sequenceOffsets: Int32Array,
  size: number,
  shape: ConvShape,
  kernel: Float32Array,
  forward: ConvPoolForward,
  dPooled: Float32Array,
  dX: Float32Array,
  dKernel: Float32Array,
  dBias: Float32Array,
): void {
  const { inputDim, widths, filters } = shape;
  const outWidth = pooledSize(shape);
  const { winners } = forward;
  const pairs = new GradientPairs();
  for (let b = 0; b < size; b++) {
    const first = sequenceOffsets[b]!;
    const length = sequenceOffsets[b + 1]! - first;
    let base = 0;
    for (let i = 0; i < widths.length; i++) {
      const w = widths[i]!;
      const o = b * outWidth + i * filters;
      for (let f = 0; f < filters; f++) {
        const p = winners[o + f]!;
        if (p < 0) continue;
        const g = dPooled[o + f]!;
        if (g === 0) continue;
        dBias[i * filters + f] = dBias[i * filters + f]! + g;
        const reach = Math.min(w, length - p);
        for (let j = 0; j < reach; j++) pairs.add(g, first + p + j, (base + j) * filters + f);
      }
      base += w;
    }
  }
  pairs.apply(x.subarray(0, sequenceOffsets[size]! * inputDim), kernel, dX, dKernel, inputDim);
}

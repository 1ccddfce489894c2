import { RowSet } from './kernels';

/**
 * A trainable tensor and its gradient. Embedding-like parameters are `sparse`: only the rows listed in
 * `touched` carry gradient, so optimisers and clipping visit those rows instead of the whole table (a 2^18-row
 * table is touched in about 5,000 rows per batch).
 */
export class Parameter {
  readonly value: Float32Array;
  readonly grad: Float32Array;
  /** Row length: the last dimension (1 for vectors). */
  readonly rowSize: number;
  readonly touched: RowSet | null;

  constructor(
    readonly name: string,
    readonly shape: readonly number[],
    sparse = false,
  ) {
    const size = shape.reduce((a, b) => a * b, 1);
    this.value = new Float32Array(size);
    this.grad = new Float32Array(size);
    this.rowSize = shape.length > 1 ? shape[shape.length - 1]! : 1;
    this.touched = sparse ? new RowSet(size / this.rowSize) : null;
  }

  get size(): number {
    return this.value.length;
  }

  zeroGrad(): void {
    if (!this.touched) {
      this.grad.fill(0);
      return;
    }
    const r = this.rowSize;
    for (const row of this.touched.rowsView()) this.grad.fill(0, row * r, row * r + r);
    this.touched.clear();
  }

  /** Calls `visit(start, end)` for each range of `grad` that may be non-zero. */
  forEachGradRange(visit: (start: number, end: number) => void): void {
    if (!this.touched) {
      visit(0, this.size);
      return;
    }
    const r = this.rowSize;
    for (const row of this.touched.rowsView()) visit(row * r, row * r + r);
  }
}

/** Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipGradientNorm(parameters: readonly Parameter[], maxNorm: number): number {
  let sumSquares = 0;
  for (const p of parameters) {
    p.forEachGradRange((start, end) => {
      for (let i = start; i < end; i++) sumSquares += p.grad[i]! * p.grad[i]!;
    });
  }
  const norm = Math.sqrt(sumSquares);
  if (norm > maxNorm && norm > 0) {
    const factor = maxNorm / norm;
    for (const p of parameters) {
      p.forEachGradRange((start, end) => {
        for (let i = start; i < end; i++) p.grad[i] = p.grad[i]! * factor;
      });
    }
  }
  return norm;
}

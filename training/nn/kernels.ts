/**
 * Numerical kernels over row-major Float32Arrays. Plain loops, unrolled by four: V8 does not vectorise, but
 * unrolling keeps four independent multiply-adds in flight and quarters the loads and stores of the output row,
 * which measured about 2x faster than the naive loops on the output layer (see bench/nn-kernels.ts).
 */

/** y[B,N] = x[B,K] · w[K,N] + bias[N]. */
export function denseForward(
  x: Float32Array,
  batch: number,
  inputs: number,
  w: Float32Array,
  outputs: number,
  bias: Float32Array | null,
  y: Float32Array,
): void {
  for (let b = 0; b < batch; b++) {
    const yo = b * outputs;
    if (bias) y.set(bias, yo);
    else y.fill(0, yo, yo + outputs);
    const xo = b * inputs;
    let k = 0;
    for (; k + 3 < inputs; k += 4) {
      const x0 = x[xo + k]!;
      const x1 = x[xo + k + 1]!;
      const x2 = x[xo + k + 2]!;
      const x3 = x[xo + k + 3]!;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const w0 = k * outputs;
      const w1 = w0 + outputs;
      const w2 = w1 + outputs;
      const w3 = w2 + outputs;
      for (let n = 0; n < outputs; n++) {
        y[yo + n] = y[yo + n]! + x0 * w[w0 + n]! + x1 * w[w1 + n]! + x2 * w[w2 + n]! + x3 * w[w3 + n]!;
      }
    }
    for (; k < inputs; k++) {
      const xk = x[xo + k]!;
      if (xk === 0) continue;
      const wk = k * outputs;
      for (let n = 0; n < outputs; n++) y[yo + n] = y[yo + n]! + xk * w[wk + n]!;
    }
  }
}

/**
 * Gradients of denseForward: dw[K,N] += xᵀ·dy, dBias[N] += Σ_b dy, and dx[B,K] = dy·wᵀ (skipped when dx is null,
 * e.g. for the first layer).
 */
export function denseBackward(
  x: Float32Array,
  batch: number,
  inputs: number,
  w: Float32Array,
  outputs: number,
  dy: Float32Array,
  dw: Float32Array,
  dBias: Float32Array | null,
  dx: Float32Array | null,
): void {
  if (dBias) {
    for (let b = 0; b < batch; b++) {
      const yo = b * outputs;
      for (let n = 0; n < outputs; n++) dBias[n] = dBias[n]! + dy[yo + n]!;
    }
  }
  for (let k = 0; k < inputs; k++) {
    const wk = k * outputs;
    let b = 0;
    for (; b + 3 < batch; b += 4) {
      const x0 = x[b * inputs + k]!;
      const x1 = x[(b + 1) * inputs + k]!;
      const x2 = x[(b + 2) * inputs + k]!;
      const x3 = x[(b + 3) * inputs + k]!;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const d0 = b * outputs;
      const d1 = d0 + outputs;
      const d2 = d1 + outputs;
      const d3 = d2 + outputs;
      for (let n = 0; n < outputs; n++) {
        dw[wk + n] = dw[wk + n]! + x0 * dy[d0 + n]! + x1 * dy[d1 + n]! + x2 * dy[d2 + n]! + x3 * dy[d3 + n]!;
      }
    }
    for (; b < batch; b++) {
      const xb = x[b * inputs + k]!;
      if (xb === 0) continue;
      const d0 = b * outputs;
      for (let n = 0; n < outputs; n++) dw[wk + n] = dw[wk + n]! + xb * dy[d0 + n]!;
    }
  }
  if (!dx) return;
  for (let b = 0; b < batch; b++) {
    const d0 = b * outputs;
    for (let k = 0; k < inputs; k++) {
      const wk = k * outputs;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let n = 0;
      for (; n + 3 < outputs; n += 4) {
        s0 += dy[d0 + n]! * w[wk + n]!;
        s1 += dy[d0 + n + 1]! * w[wk + n + 1]!;
        s2 += dy[d0 + n + 2]! * w[wk + n + 2]!;
        s3 += dy[d0 + n + 3]! * w[wk + n + 3]!;
      }
      for (; n < outputs; n++) s0 += dy[d0 + n]! * w[wk + n]!;
      dx[b * inputs + k] = s0 + s1 + s2 + s3;
    }
  }
}

/**
 * Weighted bag of table rows: out[b] = scale[b] · Σ_f table[ids[b,f]]. Id 0 is padding and skipped (its row
 * stays zero, so the ONNX graph may gather it freely).
 */
export function embeddingBagForward(
  ids: Int32Array,
  batch: number,
  width: number,
  table: Float32Array,
  dim: number,
  scale: Float32Array,
  out: Float32Array,
): void {
  out.fill(0, 0, batch * dim);
  for (let b = 0; b < batch; b++) {
    const oo = b * dim;
    const s = scale[b]!;
    for (let f = 0; f < width; f++) {
      const id = ids[b * width + f]!;
      if (id === 0) continue;
      const ro = id * dim;
      for (let d = 0; d < dim; d++) out[oo + d] = out[oo + d]! + s * table[ro + d]!;
    }
  }
}

/** Gradient of embeddingBagForward into the touched rows of `grad`; `touched` records which rows those are. */
export function embeddingBagBackward(
  ids: Int32Array,
  batch: number,
  width: number,
  dim: number,
  scale: Float32Array,
  dOut: Float32Array,
  grad: Float32Array,
  touched: RowSet,
): void {
  for (let b = 0; b < batch; b++) {
    const go = b * dim;
    const s = scale[b]!;
    for (let f = 0; f < width; f++) {
      const id = ids[b * width + f]!;
      if (id === 0) continue;
      touched.add(id);
      const ro = id * dim;
      for (let d = 0; d < dim; d++) grad[ro + d] = grad[ro + d]! + s * dOut[go + d]!;
    }
  }
}

/** Per-row scale of a mean bag: 1 / (number of non-padding ids), or 1/sqrt of it (`sqrt`, the linear model). */
export function bagScales(
  ids: Int32Array,
  batch: number,
  width: number,
  mode: 'mean' | 'sqrt',
): Float32Array {
  const scale = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let f = 0; f < width; f++) if (ids[b * width + f] !== 0) count++;
    const c = Math.max(count, 1);
    scale[b] = mode === 'mean' ? 1 / c : 1 / Math.sqrt(c);
  }
  return scale;
}

/** Sparse set of row indices with O(1) insert and a list for iteration; cleared in O(size). */
export class RowSet {
  private readonly marks: Uint8Array;
  private list: Int32Array;
  size = 0;

  constructor(readonly rows: number) {
    this.marks = new Uint8Array(rows);
    this.list = new Int32Array(1024);
  }

  add(row: number): void {
    if (this.marks[row] === 1) return;
    this.marks[row] = 1;
    if (this.size === this.list.length) {
      const grown = new Int32Array(this.list.length * 2);
      grown.set(this.list);
      this.list = grown;
    }
    this.list[this.size++] = row;
  }

  /** The touched rows, valid until the next add or clear. */
  rowsView(): Int32Array {
    return this.list.subarray(0, this.size);
  }

  clear(): void {
    for (let i = 0; i < this.size; i++) this.marks[this.list[i]!] = 0;
    this.size = 0;
  }
}

/**
 * Softmax cross-entropy over rows of `logits` [B,C]. Writes probabilities into `probs` and the gradient of the
 * (weighted) mean loss into `dLogits`; returns the summed weighted loss. `weights` (per example) lets class
 * weights and up-sampling factors enter without copying data.
 */
export function softmaxCrossEntropy(
  logits: Float32Array,
  batch: number,
  classes: number,
  labels: Int32Array,
  weights: Float32Array | null,
  probs: Float32Array,
  dLogits: Float32Array | null,
): number {
  softmaxRows(logits, batch, classes, probs);
  let totalWeight = 0;
  for (let b = 0; b < batch; b++) totalWeight += weights ? weights[b]! : 1;
  let loss = 0;
  for (let b = 0; b < batch; b++) {
    const o = b * classes;
    const label = labels[b]!;
    const weight = weights ? weights[b]! : 1;
    loss -= weight * Math.log(Math.max(probs[o + label]!, 1e-30));
    if (!dLogits) continue;
    const g = weight / totalWeight;
    for (let c = 0; c < classes; c++) dLogits[o + c] = g * probs[o + c]!;
    dLogits[o + label] = dLogits[o + label]! - g;
  }
  return loss;
}

/** Row-wise softmax, max-shifted for stability. `out` may alias `logits`. */
export function softmaxRows(logits: Float32Array, batch: number, classes: number, out: Float32Array): void {
  for (let b = 0; b < batch; b++) {
    const o = b * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if (logits[o + c]! > max) max = logits[o + c]!;
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(logits[o + c]! - max);
      out[o + c] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let c = 0; c < classes; c++) out[o + c] = out[o + c]! * inv;
  }
}

export function reluForward(x: Float32Array, n: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? x[i]! : 0;
}

/** dx = dy where the activation was positive; `activated` is the ReLU output. */
export function reluBackward(activated: Float32Array, dy: Float32Array, n: number, dx: Float32Array): void {
  for (let i = 0; i < n; i++) dx[i] = activated[i]! > 0 ? dy[i]! : 0;
}

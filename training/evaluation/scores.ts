/** Row-wise helpers over score matrices: Float32Array [n × C], row-major. */

/** Checks the matrix shape, so that a wrong class count fails loudly instead of reading shifted rows. */
export function checkShape(scores: Float32Array, numClasses: number, rows: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new Error(`numClasses must be ≥ 1, got ${numClasses}`);
  if (scores.length !== rows * numClasses) {
    throw new Error(`score matrix has ${scores.length} values, expected ${rows} × ${numClasses}`);
  }
}

/** Softmax of each row of `logits / temperature`, computed stably (max subtracted). */
export function softmaxRows(logits: Float32Array, numClasses: number, temperature = 1): Float32Array {
  const out = new Float32Array(logits.length);
  const rows = logits.length / numClasses;
  for (let i = 0; i < rows; i++) {
    const base = i * numClasses;
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[base + c]! / temperature);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      const e = Math.exp(logits[base + c]! / temperature - max);
      out[base + c] = e;
      sum += e;
    }
    for (let c = 0; c < numClasses; c++) out[base + c] = out[base + c]! / sum;
  }
  return out;
}

/** Indices of the k largest scores of each row, best first (ties: lower index first). Int32Array [n × k]. */
export function topKIndices(scores: Float32Array, numClasses: number, k: number): Int32Array {
  const rows = scores.length / numClasses;
  const kk = Math.min(k, numClasses);
  const out = new Int32Array(rows * kk);
  const best = new Int32Array(kk);
  for (let i = 0; i < rows; i++) {
    const base = i * numClasses;
    let filled = 0;
    // Insertion into a short sorted list: O(C·k) per row, far cheaper than sorting C scores for k = 5.
    for (let c = 0; c < numClasses; c++) {
      const value = scores[base + c]!;
      if (filled === kk && !(value > scores[base + best[kk - 1]!]!)) continue;
      let pos = filled < kk ? filled++ : kk - 1;
      while (pos > 0 && value > scores[base + best[pos - 1]!]!) {
        best[pos] = best[pos - 1]!;
        pos--;
      }
      best[pos] = c;
    }
    out.set(best, i * kk);
  }
  return out;
}

/** Largest value of each row (the confidence of the top prediction when rows are probabilities). */
export function rowMax(scores: Float32Array, numClasses: number): Float32Array {
  const rows = scores.length / numClasses;
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, scores[i * numClasses + c]!);
    out[i] = max;
  }
  return out;
}

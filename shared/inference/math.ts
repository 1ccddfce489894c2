/**
 * Post-processing numerics: pure functions over typed arrays. Probabilities are computed in float64 from the
 * graph's float32 logits so that roll-ups (sums over many small probabilities) do not drift.
 */

/**
 * softmax(logits / temperature) of one row, numerically stable (max subtracted). `out` lets a batch reuse one
 * buffer instead of allocating a row per item.
 */
export function calibratedSoftmax(
  logits: Float32Array,
  temperature: number,
  out: Float64Array = new Float64Array(logits.length),
): Float64Array {
  const inverse = 1 / temperature;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const scaled = logits[i]! * inverse;
    out[i] = scaled;
    if (scaled > max) max = scaled;
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(out[i]! - max);
    out[i] = e;
    sum += e;
  }
  const norm = 1 / sum;
  for (let i = 0; i < logits.length; i++) out[i] = out[i]! * norm;
  return out;
}

/**
 * One entry of `calibratedSoftmax(logits, temperature)`, without writing the row: occlusion needs only the top
 * code's probability of each variant row. The same operations in the same order as `calibratedSoftmax`, so the
 * value is bit-identical to the full row's (replay compares recorded explanations exactly).
 */
export function calibratedProbabilityAt(logits: Float32Array, temperature: number, index: number): number {
  const inverse = 1 / temperature;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const scaled = logits[i]! * inverse;
    if (scaled > max) max = scaled;
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! * inverse - max);
  const norm = 1 / sum;
  return Math.exp(logits[index]! * inverse - max) * norm;
}

/** Indices of the k largest values, largest first; ties keep the lower index first (stable across runs). */
export function topKIndices(values: Float64Array, k: number): number[] {
  const count = Math.min(k, values.length);
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (best.length === count && v <= values[best[count - 1]!]!) continue;
    let at = best.length === count ? count - 1 : best.length;
    if (best.length < count) best.push(i);
    while (at > 0 && values[best[at - 1]!]! < v) {
      best[at] = best[at - 1]!;
      at--;
    }
    best[at] = i;
  }
  return best;
}

/**
 * Sums probabilities of the classes sharing each group (heading = first 4 digits, chapter = first 2).
 * `groupOfClass[c]` is the group index of class c; returns one sum per group.
 */
export function rollUp(
  probabilities: Float64Array,
  groupOfClass: Int32Array,
  groups: number,
  sums: Float64Array = new Float64Array(groups),
): Float64Array {
  sums.fill(0, 0, groups);
  for (let c = 0; c < probabilities.length; c++) {
    const g = groupOfClass[c]!;
    sums[g] = sums[g]! + probabilities[c]!;
  }
  return sums;
}

/** Rounds a confidence for the API and the audit record, so that replay compares what was served. */
export function roundConfidence(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * Per-feature weights for bag pooling (tf-idf style): h = Σ_f w[id_f] · table[id_f] · scale, where scale makes
 * the weighted bag unit length ('sqrt': 1 / sqrt(Σ w²), the L2 normalisation of a binary tf-idf vector) or a
 * weighted mean ('mean': 1 / Σ w). With every weight 1 this is exactly the unweighted 'sqrt' / 'mean' pooling.
 * The weights are fixed statistics of the training data, not parameters: the exported graph gathers them.
 */

/**
 * Smoothed inverse document frequency per id, as scikit-learn's TfidfVectorizer computes it:
 * ln((1 + N) / (1 + df)) + 1. Rare features weigh up to ~ln N + 1, a feature in every text weighs 1; id 0
 * (padding) weighs 0. Ids are counted once per bag.
 */
export function inverseDocumentFrequencies(bags: readonly Int32Array[], rows: number): Float32Array {
  const documentFrequency = new Int32Array(rows);
  const lastSeenIn = new Int32Array(rows).fill(-1);
  bags.forEach((bag, index) => {
    for (const id of bag) {
      if (id <= 0 || id >= rows) throw new RangeError(`feature id ${id} outside [1, ${rows})`);
      if (lastSeenIn[id] === index) continue;
      lastSeenIn[id] = index;
      documentFrequency[id]!++;
    }
  });
  const weights = new Float32Array(rows);
  for (let id = 1; id < rows; id++) {
    weights[id] = Math.log((1 + bags.length) / (1 + documentFrequency[id]!)) + 1;
  }
  return weights;
}

/** Pooling coefficient of every slot of a padded id batch [batch, width]: w[id] · scale of its row (0 for padding). */
export function weightedBagCoefficients(
  ids: Int32Array,
  batch: number,
  width: number,
  weights: Float32Array,
  pooling: 'mean' | 'sqrt',
): Float32Array {
  const coefficients = new Float32Array(batch * width);
  for (let b = 0; b < batch; b++) {
    let total = 0;
    for (let f = 0; f < width; f++) {
      const w = weights[ids[b * width + f]!]!;
      total += pooling === 'sqrt' ? w * w : w;
    }
    // An empty bag gathers only zero rows; any finite scale keeps it at zero.
    const scale = total > 0 ? (pooling === 'sqrt' ? 1 / Math.sqrt(total) : 1 / total) : 0;
    for (let f = 0; f < width; f++) {
      coefficients[b * width + f] = weights[ids[b * width + f]!]! * scale;
    }
  }
  return coefficients;
}

/** out[b] = Σ_f coefficients[b,f] · table[ids[b,f]]; padding (id 0) is skipped. */
export function coefficientBagForward(
  ids: Int32Array,
  batch: number,
  width: number,
  coefficients: Float32Array,
  table: Float32Array,
  dim: number,
  out: Float32Array,
): void {
  out.fill(0, 0, batch * dim);
  for (let b = 0; b < batch; b++) {
    const oo = b * dim;
    for (let f = 0; f < width; f++) {
      const id = ids[b * width + f]!;
      if (id === 0) continue;
      const c = coefficients[b * width + f]!;
      const ro = id * dim;
      for (let d = 0; d < dim; d++) out[oo + d] = out[oo + d]! + c * table[ro + d]!;
    }
  }
}

/** Gradient of coefficientBagForward into `grad`, recording the rows it touches. */
export function coefficientBagBackward(
  ids: Int32Array,
  batch: number,
  width: number,
  coefficients: Float32Array,
  dim: number,
  dOut: Float32Array,
  grad: Float32Array,
  touched: { add(row: number): void },
): void {
  for (let b = 0; b < batch; b++) {
    const go = b * dim;
    for (let f = 0; f < width; f++) {
      const id = ids[b * width + f]!;
      if (id === 0) continue;
      touched.add(id);
      const c = coefficients[b * width + f]!;
      const ro = id * dim;
      for (let d = 0; d < dim; d++) grad[ro + d] = grad[ro + d]! + c * dOut[go + d]!;
    }
  }
}

/** Unit weights (the unweighted pooling) with padding at 0; the starting point before idf is set. */
export function unitFeatureWeights(rows: number): Float32Array {
  const weights = new Float32Array(rows).fill(1);
  weights[0] = 0;
  return weights;
}

/** Checks weights a model is about to adopt: one per row, finite and non-negative, padding 0. */
export function validateFeatureWeights(weights: Float32Array, rows: number): void {
  if (weights.length !== rows) throw new RangeError(`${weights.length} feature weights for ${rows} rows`);
  if (weights[0] !== 0) throw new RangeError('the padding feature weight (id 0) must be 0');
  for (const w of weights) {
    if (!Number.isFinite(w) || w < 0) throw new RangeError(`feature weight ${w} is not finite and >= 0`);
  }
}

/**
 * Token vectors with subword information (fastText style): a token's vector is the sum of the embedding rows of
 * its features (the word itself, its character n-grams, the bigram ending at it), so unseen and misspelt words
 * still land near their known relatives. Rows come from one hashed table [rows × dim]; row 0 is padding and
 * stays zero, which is what lets the serving graph sum a zero-padded id grid without masking.
 */
import { RowSet } from '../kernels';
import { PackedTokens, tokenCount } from './packed';

/** out[tokens × dim] = per token, the sum of its feature rows. Overwrites out (allocated when absent). */
export function subwordEmbeddingForward(
  table: Float32Array,
  dim: number,
  packed: PackedTokens,
  out: Float32Array = new Float32Array(tokenCount(packed) * dim),
): Float32Array {
  const tokens = tokenCount(packed);
  const { featureOffsets, featureIds } = packed;
  out.fill(0, 0, tokens * dim);
  for (let t = 0; t < tokens; t++) {
    const o = t * dim;
    for (let f = featureOffsets[t]!; f < featureOffsets[t + 1]!; f++) {
      const r = featureIds[f]! * dim;
      for (let d = 0; d < dim; d++) out[o + d] = out[o + d]! + table[r + d]!;
    }
  }
  return out;
}

/**
 * Adds d(loss)/d(table) for d(loss)/d(token vectors) `dTokens` [tokens × dim] into `grad` (a table-sized
 * buffer, see Parameter) and records the rows it touched, so the optimiser updates only those rows (a dense pass
 * over 2^18 × dim per batch would cost more than the whole network).
 */
export function subwordEmbeddingBackward(
  dTokens: Float32Array,
  dim: number,
  packed: PackedTokens,
  grad: Float32Array,
  touched: RowSet,
): void {
  const tokens = tokenCount(packed);
  const { featureOffsets, featureIds } = packed;
  for (let t = 0; t < tokens; t++) {
    const o = t * dim;
    for (let f = featureOffsets[t]!; f < featureOffsets[t + 1]!; f++) {
      const row = featureIds[f]!;
      touched.add(row);
      const r = row * dim;
      for (let d = 0; d < dim; d++) grad[r + d] = grad[r + d]! + dTokens[o + d]!;
    }
  }
}

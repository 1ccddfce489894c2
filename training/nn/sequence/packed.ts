/**
 * Packed token sequences: a batch of variable-length texts as one flat list of tokens plus offsets, so that
 * training never pays for padding (descriptions have a median of five words; padding to 32 would do six times
 * the work). Serving uses the encoder's padded grid instead; `tokenGridFromPacked` builds that grid from the same
 * features, which is what the ONNX parity tests feed.
 */

import { TextEncoderConfig, encodeTokens } from '../../../shared/text/encoder';

export interface PackedTokens {
  /** Number of sequences (texts) in the batch. */
  readonly size: number;
  /** [size + 1] token offsets: sequence b owns tokens sequenceOffsets[b] .. sequenceOffsets[b + 1] - 1. */
  readonly sequenceOffsets: Int32Array;
  /** [tokens + 1] offsets into featureIds: token t owns featureIds[featureOffsets[t] .. featureOffsets[t + 1]). */
  readonly featureOffsets: Int32Array;
  /** Embedding row ids of every token's features (word, character n-grams, ...); 0 is padding and never used. */
  readonly featureIds: Int32Array;
}

export function tokenCount(packed: PackedTokens): number {
  return packed.sequenceOffsets[packed.size]!;
}

/**
 * Packs per-token feature ids (the encoder's `encodeTokens` output, one entry per text) with the same caps the
 * serving grid applies, so training sees exactly the features serving sees. A text without tokens becomes one
 * featureless token: it embeds to the zero vector, exactly like an all-padding row of the serving grid.
 */
export function packTokenFeatures(
  texts: readonly (readonly Int32Array[])[],
  maxTokens: number,
  maxFeaturesPerToken: number,
): PackedTokens {
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new RangeError(`maxTokens must be >= 1, got ${maxTokens}`);
  if (!Number.isInteger(maxFeaturesPerToken) || maxFeaturesPerToken < 1) {
    throw new RangeError(`maxFeaturesPerToken must be >= 1, got ${maxFeaturesPerToken}`);
  }
  let tokens = 0;
  let features = 0;
  for (const text of texts) {
    const kept = Math.min(text.length, maxTokens);
    tokens += Math.max(1, kept);
    for (let t = 0; t < kept; t++) features += Math.min(text[t]!.length, maxFeaturesPerToken);
  }
  const sequenceOffsets = new Int32Array(texts.length + 1);
  const featureOffsets = new Int32Array(tokens + 1);
  const featureIds = new Int32Array(features);
  let token = 0;
  let feature = 0;
  texts.forEach((text, b) => {
    sequenceOffsets[b] = token;
    const kept = Math.min(text.length, maxTokens);
    if (kept === 0) {
      featureOffsets[token] = feature;
      token++;
    }
    for (let t = 0; t < kept; t++) {
      const ids = text[t]!;
      featureOffsets[token] = feature;
      const n = Math.min(ids.length, maxFeaturesPerToken);
      for (let k = 0; k < n; k++) {
        const id = ids[k]!;
        if (id <= 0) throw new RangeError(`feature id ${id} of text ${b} is not positive (0 is padding)`);
        featureIds[feature++] = id;
      }
      token++;
    }
  });
  sequenceOffsets[texts.length] = token;
  featureOffsets[token] = feature;
  return { size: texts.length, sequenceOffsets, featureOffsets, featureIds };
}

/** Sequences listed by index, re-packed (a mini-batch drawn from a packed data set). */
export function selectSequences(packed: PackedTokens, indices: ArrayLike<number>): PackedTokens {
  let tokens = 0;
  let features = 0;
  for (let i = 0; i < indices.length; i++) {
    const b = indices[i]!;
    const first = packed.sequenceOffsets[b]!;
    const end = packed.sequenceOffsets[b + 1]!;
    tokens += end - first;
    features += packed.featureOffsets[end]! - packed.featureOffsets[first]!;
  }
  const sequenceOffsets = new Int32Array(indices.length + 1);
  const featureOffsets = new Int32Array(tokens + 1);
  const featureIds = new Int32Array(features);
  let token = 0;
  let feature = 0;
  for (let i = 0; i < indices.length; i++) {
    const b = indices[i]!;
    sequenceOffsets[i] = token;
    const first = packed.sequenceOffsets[b]!;
    const end = packed.sequenceOffsets[b + 1]!;
    for (let t = first; t < end; t++) {
      featureOffsets[token++] = feature;
      const from = packed.featureOffsets[t]!;
      const to = packed.featureOffsets[t + 1]!;
      featureIds.set(packed.featureIds.subarray(from, to), feature);
      feature += to - from;
    }
  }
  sequenceOffsets[indices.length] = token;
  featureOffsets[token] = feature;
  return { size: indices.length, sequenceOffsets, featureOffsets, featureIds };
}

/** The serving layout [size, tokens, perToken] with 0 padding, holding exactly the packed features. */
export interface TokenGrid {
  readonly ids: Int32Array;
  readonly size: number;
  readonly tokens: number;
  readonly perToken: number;
}

export function tokenGridFromPacked(packed: PackedTokens, tokens?: number, perToken?: number): TokenGrid {
  let longest = 1;
  let widest = 1;
  for (let b = 0; b < packed.size; b++) {
    longest = Math.max(longest, packed.sequenceOffsets[b + 1]! - packed.sequenceOffsets[b]!);
  }
  for (let t = 0; t < tokenCount(packed); t++) {
    widest = Math.max(widest, packed.featureOffsets[t + 1]! - packed.featureOffsets[t]!);
  }
  const gridTokens = tokens ?? longest;
  const gridWidth = perToken ?? widest;
  if (gridTokens < longest || gridWidth < widest) {
    throw new RangeError(
      `grid [${gridTokens}, ${gridWidth}] cannot hold packed sequences [${longest}, ${widest}]`,
    );
  }
  const ids = new Int32Array(packed.size * gridTokens * gridWidth);
  for (let b = 0; b < packed.size; b++) {
    const first = packed.sequenceOffsets[b]!;
    const end = packed.sequenceOffsets[b + 1]!;
    for (let t = first; t < end; t++) {
      const from = packed.featureOffsets[t]!;
      const to = packed.featureOffsets[t + 1]!;
      ids.set(packed.featureIds.subarray(from, to), (b * gridTokens + (t - first)) * gridWidth);
    }
  }
  return { ids, size: packed.size, tokens: gridTokens, perToken: gridWidth };
}

/**
 * Features kept per token, in training and in the serving grid alike (the default of the encoder's
 * packTokenGrids); exported models record it as `features_per_token`.
 */
export const FEATURES_PER_TOKEN = 32;

/**
 * Encodes texts straight into the packed layout, with the caps `packTokenGrids` applies at serving (the encoder
 * already cuts tokens at maxTokens; `perToken` cuts features per token, default 32 like the grid).
 */
export function packTexts(
  texts: readonly string[],
  encoder: TextEncoderConfig,
  perToken = FEATURES_PER_TOKEN,
): PackedTokens {
  return packTokenFeatures(
    texts.map((text) => encodeTokens(text, encoder)),
    encoder.maxTokens,
    perToken,
  );
}

/** Labelled packed sequences in the shape the trainer batches (training/trainer.ts ExampleSet). */
export interface PackedExampleSet {
  readonly size: number;
  readonly labels: Int32Array;
  readonly packed: PackedTokens;
  batch(indices: Int32Array): PackedTokens;
}

export function packedExampleSet(packed: PackedTokens, labels: Int32Array): PackedExampleSet {
  if (labels.length !== packed.size)
    throw new RangeError(`${labels.length} labels for ${packed.size} sequences`);
  return { size: packed.size, labels, packed, batch: (indices) => selectSequences(packed, indices) };
}

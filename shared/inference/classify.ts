/**
 * Batched classification: every item of a request (and every occlusion variant of every item) goes through one
 * ONNX run, then temperature-calibrated softmax, top-k with nomenclature descriptions, roll-up to heading and
 * chapter, and the auto / review decision from the model's validated thresholds.
 */
import { normalizeText, tokenize } from '../text/encoder';
import { encodeTokenLists, withoutToken } from './features';
import { calibratedProbabilityAt, calibratedSoftmax, rollUp, roundConfidence, topKIndices } from './math';
import type { ServingModel } from './model';

export interface RankedCode {
  readonly code: string;
  readonly description: string | null;
  readonly confidence: number;
}

export interface RolledUpCode {
  readonly code: string;
  readonly description: string | null;
  /** Sum of the probabilities of the model's classes under this code. */
  readonly confidence: number;
}

/**
 * 'confident': top code at or above the auto threshold. 'heading-sure': the subheading is not sure, but its
 * heading is (a person only has to choose within the heading). 'uncertain': neither. 'unlisted-code': the top
 * code is not in HS 2022 and cannot be filed as is.
 */
export type DecisionReason = 'confident' | 'heading-sure' | 'uncertain' | 'unlisted-code';

export interface Decision {
  readonly outcome: 'auto' | 'review';
  readonly reason: DecisionReason;
  readonly threshold: number;
  readonly headingThreshold: number;
}

export interface TokenWeight {
  readonly token: string;
  /** Drop in the top code's calibrated probability when this token is removed (negative: it pulled away). */
  readonly weight: number;
}

export interface Explanation {
  readonly method: 'occlusion';
  readonly code: string;
  readonly tokens: readonly TokenWeight[];
}

export interface ItemClassification {
  readonly normalizedText: string;
  readonly codes: readonly RankedCode[];
  readonly heading: RolledUpCode;
  readonly chapter: RolledUpCode;
  readonly decision: Decision;
  readonly explanation: Explanation | null;
}

export interface ClassifyOptions {
  /** Codes returned per item. */
  readonly topK: number;
  /** Compute occlusion explanations (one extra row per token, in the same ONNX run). */
  readonly explain: boolean;
  /** Input ids per ONNX run; larger batches are split. Default `DEFAULT_MAX_IDS_PER_RUN`. */
  readonly maxIdsPerRun?: number;
}

/**
 * The graphs gather one embedding row per input id before pooling, so a run's memory grows with rows x width x
 * embedding size: 1,000 items with occlusion rows at 100 ids each would gather 2 GB at dim 64. Runs are cut at
 * this many ids (about 64 MB of gathered float32 at dim 64); a typical request still is one run.
 */
export const DEFAULT_MAX_IDS_PER_RUN = 262_144;

/** [start, end) row ranges whose padded id count stays within `maxIds` (one row at least per range). */
function chunkRows(
  rows: readonly (readonly string[])[],
  model: ServingModel,
  maxIds: number,
): [number, number][] {
  const { encoder, manifest } = model;
  const gridWidth = encoder.maxTokens * (manifest.onnx.perToken ?? 1);
  // Bag width is bounded by the features a token list can produce; estimating it avoids encoding twice.
  const widthOf = (tokens: readonly string[]): number =>
    manifest.arch.inputLayout === 'token_grid'
      ? gridWidth
      : Math.max(
          1,
          Math.min(
            manifest.onnx.maxFeatures,
            estimateBagWidth(tokens, encoder.charNgramMin, encoder.charNgramMax, encoder.wordBigrams),
          ),
        );
  const chunks: [number, number][] = [];
  let start = 0;
  let width = 0;
  for (let row = 0; row < rows.length; row++) {
    const next = Math.max(width, widthOf(rows[row]!));
    if (row > start && (row - start + 1) * next > maxIds) {
      chunks.push([start, row]);
      start = row;
      width = widthOf(rows[row]!);
    } else {
      width = next;
    }
  }
  if (rows.length > 0) chunks.push([start, rows.length]);
  return chunks;
}

/** Upper bound of a token list's bag size: word + character n-grams + bigram per token. */
function estimateBagWidth(tokens: readonly string[], minN: number, maxN: number, bigrams: boolean): number {
  let total = 0;
  for (const token of tokens) {
    total += 1 + (bigrams ? 1 : 0);
    if (minN > 0) {
      const padded = token.length + 2;
      for (let n = minN; n <= maxN; n++) total += Math.max(0, padded - n + 1);
    }
  }
  return total;
}

export interface BatchTimings {
  readonly encodeMs: number;
  readonly inferenceMs: number;
  readonly postprocessMs: number;
}

export interface BatchClassification {
  readonly items: readonly ItemClassification[];
  readonly timings: BatchTimings;
}

/** Classifies descriptions with one ONNX run for the whole batch, occlusion rows included. */
export async function classifyBatch(
  model: ServingModel,
  descriptions: readonly string[],
  options: ClassifyOptions,
): Promise<BatchClassification> {
  const t0 = performance.now();
  const tokenLists = descriptions.map((text) => tokenize(text, model.encoder));
  const rows: string[][] = [...tokenLists];
  // Occlusion rows follow the items: item i's variants start at variantStart[i].
  const variantStart: number[] = [];
  if (options.explain) {
    for (const tokens of tokenLists) {
      variantStart.push(rows.length);
      for (let position = 0; position < tokens.length; position++) rows.push(withoutToken(tokens, position));
    }
  }
  const layout = {
    layout: model.manifest.arch.inputLayout,
    maxFeatures: model.manifest.onnx.maxFeatures,
    perToken: model.manifest.onnx.perToken ?? 1,
  };
  const classes = model.codes.length;
  const chunks = chunkRows(rows, model, options.maxIdsPerRun ?? DEFAULT_MAX_IDS_PER_RUN);
  const inputs = chunks.map(([start, end]) =>
    encodeTokenLists(rows.slice(start, end), model.encoder, layout),
  );
  const t1 = performance.now();
  const logits = new Float32Array(rows.length * classes);
  for (const [index, input] of inputs.entries()) {
    logits.set(await model.run(input), chunks[index]![0] * classes);
  }
  const t2 = performance.now();

  const temperature = model.manifest.temperature;
  const { thresholds } = model.manifest;
  // Scratch rows reused across items: allocating three float64 rows per item dominated large batches (GC).
  const itemRow = new Float64Array(classes);
  const headingScratch = new Float64Array(model.headings.length);
  const chapterScratch = new Float64Array(model.chapters.length);
  const rowProbabilities = (row: number, out: Float64Array): Float64Array =>
    calibratedSoftmax(logits.subarray(row * classes, (row + 1) * classes), temperature, out);
  const variantProbability = (row: number, code: number): number =>
    calibratedProbabilityAt(logits.subarray(row * classes, (row + 1) * classes), temperature, code);

  const items = tokenLists.map((tokens, item): ItemClassification => {
    const probabilities = rowProbabilities(item, itemRow);
    const top = topKIndices(probabilities, options.topK);
    const best = top[0]!;
    const headingSums = rollUp(probabilities, model.headingOfClass, model.headings.length, headingScratch);
    const chapterSums = rollUp(probabilities, model.chapterOfClass, model.chapters.length, chapterScratch);
    const heading = model.headingOfClass[best]!;
    const chapter = model.chapterOfClass[best]!;
    const topProbability = probabilities[best]!;
    const headingProbability = headingSums[heading]!;
    const reason: DecisionReason = !model.listed[best]
      ? 'unlisted-code'
      : topProbability >= thresholds.auto
        ? 'confident'
        : headingProbability >= thresholds.heading
          ? 'heading-sure'
          : 'uncertain';
    let explanation: Explanation | null = null;
    if (options.explain) {
      const start = variantStart[item]!;
      explanation = {
        method: 'occlusion',
        code: model.codes[best]!,
        tokens: tokens.map((token, position) => ({
          token,
          weight: roundConfidence(topProbability - variantProbability(start + position, best)),
        })),
      };
    }
    return {
      normalizedText: normalizeText(descriptions[item]!),
      codes: top.map((c) => ({
        code: model.codes[c]!,
        description: model.descriptions[c] ?? null,
        confidence: roundConfidence(probabilities[c]!),
      })),
      heading: {
        code: model.headings[heading]!,
        description: model.headingDescriptions[heading] ?? null,
        confidence: roundConfidence(Math.min(1, headingProbability)),
      },
      chapter: {
        code: model.chapters[chapter]!,
        description: model.chapterDescriptions[chapter] ?? null,
        confidence: roundConfidence(Math.min(1, chapterSums[chapter]!)),
      },
      decision: {
        outcome: reason === 'confident' ? 'auto' : 'review',
        reason,
        threshold: thresholds.auto,
        headingThreshold: thresholds.heading,
      },
      explanation,
    };
  });
  const t3 = performance.now();
  return { items, timings: { encodeMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2 } };
}

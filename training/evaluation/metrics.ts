/**
 * Classification metrics over a probability matrix [n × C]. True labels may index past C (classes the model was
 * not trained on, appended by the CSV reader): such rows count as errors, never as skipped.
 */
import { checkShape, rowMax, topKIndices } from './scores';

export interface ClassMetrics {
  readonly code: string;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** True rows of the class. */
  readonly support: number;
  /** Rows predicted as the class. */
  readonly predicted: number;
}

export interface ChapterConfusion {
  readonly trueChapter: string;
  readonly predictedChapter: string;
  readonly count: number;
}

export interface ChapterAccuracy {
  readonly chapter: string;
  readonly accuracy: number;
  readonly support: number;
}

export interface ClassificationMetrics {
  readonly n: number;
  readonly accuracyAt1: number;
  readonly accuracyAt5: number;
  /** Mean F1 over classes that occur among true or predicted labels (scikit-learn's convention). */
  readonly macroF1: number;
  /** Top-1 accuracy when only the first 2 / 4 / 6 digits must match; null where labels are shorter. */
  readonly hierarchicalAccuracy: {
    readonly hs2: number;
    readonly hs4: number | null;
    readonly hs6: number | null;
  };
  /**
   * Mean negative log-likelihood of the true class, each row's term capped at −log(1e-12) so one confidently wrong
   * row cannot dominate (rows whose class the model lacks are left out).
   */
  readonly nll: number;
  /** Expected calibration error of the top-1 confidence, equal-width bins. */
  readonly ece: number;
  readonly perClass: readonly ClassMetrics[];
  /** Chapters by ascending top-1 accuracy (worst first). */
  readonly chapterAccuracy: readonly ChapterAccuracy[];
  /** Most frequent (true chapter → predicted chapter) errors across chapters. */
  readonly topChapterConfusions: readonly ChapterConfusion[];
}

export interface MetricsOptions {
  /** Rows with several correct labels (row index → label indices); any of them counts as a hit. */
  alternatives?: ReadonlyMap<number, Int32Array>;
  /** Bins of the expected calibration error. Default 15. */
  eceBins?: number;
  /** Chapter pairs listed in `topChapterConfusions`. Default 10. */
  topConfusions?: number;
}

/** Whether prediction `predicted` is correct for row `row`. */
export function isHit(
  row: number,
  predicted: number,
  trueLabels: Int32Array,
  alternatives?: ReadonlyMap<number, Int32Array>,
): boolean {
  const alt = alternatives?.get(row);
  return alt ? alt.includes(predicted) : trueLabels[row] === predicted;
}

/**
 * All metrics of one model on one labelled set. `probabilities` rows must sum to 1 (apply `softmaxRows` with the
 * fitted temperature to logits first). `labelSet` maps label index → code and covers every true label.
 */
export function classificationMetrics(
  probabilities: Float32Array,
  trueLabels: Int32Array,
  labelSet: readonly string[],
  numClasses: number,
  options: MetricsOptions = {},
): ClassificationMetrics {
  const n = trueLabels.length;
  checkShape(probabilities, numClasses, n);
  for (const label of trueLabels) {
    if (label < 0 || label >= labelSet.length) throw new Error(`true label ${label} not in the label set`);
  }
  if (labelSet.length < numClasses) throw new Error('label set is shorter than the class count');
  const top = topKIndices(probabilities, numClasses, 5);
  const k = Math.min(5, numClasses);
  const confidence = rowMax(probabilities, numClasses);
  const alternatives = options.alternatives;

  let hits1 = 0;
  let hits5 = 0;
  const prefixHits = { 2: 0, 4: 0, 6: 0 };
  const tp = new Float64Array(labelSet.length);
  const support = new Float64Array(labelSet.length);
  const predictedCount = new Float64Array(labelSet.length);
  const chapterHits = new Map<string, { hits: number; support: number }>();
  const confusions = new Map<string, number>();
  let nllSum = 0;
  let nllRows = 0;
  const correct = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const truth = trueLabels[i]!;
    const predicted = top[i * k]!;
    const hit = isHit(i, predicted, trueLabels, alternatives);
    correct[i] = hit ? 1 : 0;
    if (hit) hits1++;
    for (let j = 0; j < k; j++) {
      if (isHit(i, top[i * k + j]!, trueLabels, alternatives)) {
        hits5++;
        break;
      }
    }
    // Per-class counts use the training label; with alternatives a hit on another listed label still counts.
    const credited = hit ? predicted : truth;
    support[truth]!++;
    predictedCount[predicted]!++;
    if (hit) {
      tp[credited]!++;
      if (credited !== truth) {
        support[truth]!--;
        support[credited]!++;
      }
    }
    const trueCode = labelSet[hit ? credited : truth]!;
    const predictedCode = labelSet[predicted]!;
    for (const digits of [2, 4, 6] as const) {
      if (trueCode.slice(0, digits) === predictedCode.slice(0, digits)) prefixHits[digits]++;
    }
    const trueChapter = trueCode.slice(0, 2);
    const predictedChapter = predictedCode.slice(0, 2);
    const chapter = chapterHits.get(trueChapter) ?? { hits: 0, support: 0 };
    chapter.support++;
    if (hit) chapter.hits++;
    chapterHits.set(trueChapter, chapter);
    if (trueChapter !== predictedChapter) {
      const key = `${trueChapter}>${predictedChapter}`;
      confusions.set(key, (confusions.get(key) ?? 0) + 1);
    }
    if (truth < numClasses) {
      nllSum -= Math.log(Math.max(probabilities[i * numClasses + truth]!, 1e-12));
      nllRows++;
    }
  }

  const perClass: ClassMetrics[] = [];
  let f1Sum = 0;
  let f1Classes = 0;
  for (let c = 0; c < labelSet.length; c++) {
    if (support[c]! === 0 && predictedCount[c]! === 0) continue;
    const precision = predictedCount[c]! > 0 ? tp[c]! / predictedCount[c]! : 0;
    const recall = support[c]! > 0 ? tp[c]! / support[c]! : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass.push({
      code: labelSet[c]!,
      precision,
      recall,
      f1,
      support: support[c]!,
      predicted: predictedCount[c]!,
    });
    f1Sum += f1;
    f1Classes++;
  }
  const labelLength = Math.min(...labelSet.map((code) => code.length));
  const chapterAccuracy = [...chapterHits.entries()]
    .map(([chapter, { hits, support: s }]) => ({ chapter, accuracy: hits / s, support: s }))
    .sort((a, b) => a.accuracy - b.accuracy || b.support - a.support || a.chapter.localeCompare(b.chapter));
  const topChapterConfusions = [...confusions.entries()]
    .map(([key, count]) => {
      const [trueChapter, predictedChapter] = key.split('>') as [string, string];
      return { trueChapter, predictedChapter, count };
    })
    .sort(
      (a, b) =>
        b.count - a.count ||
        a.trueChapter.localeCompare(b.trueChapter) ||
        a.predictedChapter.localeCompare(b.predictedChapter),
    )
    .slice(0, options.topConfusions ?? 10);

  return {
    n,
    accuracyAt1: n ? hits1 / n : 0,
    accuracyAt5: n ? hits5 / n : 0,
    macroF1: f1Classes ? f1Sum / f1Classes : 0,
    hierarchicalAccuracy: {
      hs2: n ? prefixHits[2] / n : 0,
      hs4: labelLength >= 4 && n ? prefixHits[4] / n : null,
      hs6: labelLength >= 6 && n ? prefixHits[6] / n : null,
    },
    nll: nllRows ? nllSum / nllRows : 0,
    ece: expectedCalibrationError(confidence, correct, options.eceBins ?? 15),
    perClass,
    chapterAccuracy,
    topChapterConfusions,
  };
}

/**
 * Expected calibration error: Σ_b (n_b / n) · |accuracy_b − mean confidence_b| over equal-width confidence bins
 * (bin b holds confidences in ((b−1)/B, b/B], the first bin also holds 0).
 */
export function expectedCalibrationError(confidence: Float32Array, correct: Uint8Array, bins = 15): number {
  const n = confidence.length;
  if (n === 0) return 0;
  const count = new Float64Array(bins);
  const confSum = new Float64Array(bins);
  const hitSum = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = confidence[i]!;
    const bin = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
    count[bin]!++;
    confSum[bin]! += p;
    hitSum[bin]! += correct[i]!;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b]! > 0) ece += Math.abs(hitSum[b]! - confSum[b]!) / n;
  }
  return ece;
}

/** Top-1 correctness of each row (1 = hit), the input of coverage and bootstrap computations. */
export function topOneCorrect(
  probabilities: Float32Array,
  trueLabels: Int32Array,
  numClasses: number,
  alternatives?: ReadonlyMap<number, Int32Array>,
): { correct: Uint8Array; confidence: Float32Array } {
  checkShape(probabilities, numClasses, trueLabels.length);
  const top = topKIndices(probabilities, numClasses, 1);
  const correct = new Uint8Array(trueLabels.length);
  for (let i = 0; i < trueLabels.length; i++)
    correct[i] = isHit(i, top[i]!, trueLabels, alternatives) ? 1 : 0;
  return { correct, confidence: rowMax(probabilities, numClasses) };
}

/**
 * One model's evaluation as a JSON object (stored with the model in the registry) and as Markdown (for people).
 * Validation data fits the temperature and chooses the auto thresholds; test data only measures them.
 */
import { fitTemperature, type TemperatureFit } from './calibration';
import { chooseThreshold, evaluateThreshold, oracleCoverage } from './coverage';
import { classificationMetrics, topOneCorrect, type ClassificationMetrics } from './metrics';
import { softmaxRows } from './scores';

export interface ScoredSet {
  /** Float32Array [n × numClasses], row-major: logits, or probabilities when `scoresAre` says so. */
  readonly scores: Float32Array;
  readonly labels: Int32Array;
  /** Rows with several correct labels (see the CSV reader). */
  readonly alternatives?: ReadonlyMap<number, Int32Array>;
}

export interface EvaluateModelInput {
  readonly modelId: string;
  /** Label index → code; may extend past numClasses with classes only the evaluation data has. */
  readonly labelSet: readonly string[];
  readonly numClasses: number;
  readonly validation: ScoredSet;
  readonly test: ScoredSet;
  /** What the score matrices hold. Default 'logits'. Temperature scaling needs logits. */
  readonly scoresAre?: 'logits' | 'probabilities';
  /** Fit a temperature on validation (logits only). Default true. */
  readonly calibrate?: boolean;
  /** Target precisions of the auto decision. Default [0.95, 0.98]. */
  readonly targetPrecisions?: readonly number[];
}

export interface CoverageResult {
  readonly targetPrecision: number;
  /** Chosen on validation; Infinity (serialised as null) when validation never reaches the target. */
  readonly threshold: number | null;
  readonly validationCoverage: number;
  readonly testPrecision: number;
  readonly testCoverage: number;
  /** The peers' optimistic figure: threshold chosen on the test set itself. */
  readonly testOracleCoverage: number;
}

export interface EvaluationReport {
  readonly modelId: string;
  readonly numClasses: number;
  readonly temperature: TemperatureFit | null;
  readonly validation: Omit<ClassificationMetrics, 'perClass'>;
  readonly test: ClassificationMetrics;
  readonly coverage: readonly CoverageResult[];
}

export function evaluateModel(input: EvaluateModelInput): EvaluationReport {
  const { numClasses, labelSet } = input;
  const logits = (input.scoresAre ?? 'logits') === 'logits';
  const calibrate = logits && (input.calibrate ?? true);
  const temperature = calibrate
    ? fitTemperature(input.validation.scores, input.validation.labels, numClasses)
    : null;
  const toProbabilities = (scores: Float32Array): Float32Array =>
    logits ? softmaxRows(scores, numClasses, temperature?.temperature ?? 1) : scores;
  const validationProbabilities = toProbabilities(input.validation.scores);
  const testProbabilities = toProbabilities(input.test.scores);
  const validationMetrics = classificationMetrics(
    validationProbabilities,
    input.validation.labels,
    labelSet,
    numClasses,
    {
      alternatives: input.validation.alternatives,
    },
  );
  const testMetrics = classificationMetrics(testProbabilities, input.test.labels, labelSet, numClasses, {
    alternatives: input.test.alternatives,
  });
  const validationTop = topOneCorrect(
    validationProbabilities,
    input.validation.labels,
    numClasses,
    input.validation.alternatives,
  );
  const testTop = topOneCorrect(testProbabilities, input.test.labels, numClasses, input.test.alternatives);
  const coverage = (input.targetPrecisions ?? [0.95, 0.98]).map((target) => {
    const choice = chooseThreshold(validationTop.confidence, validationTop.correct, target);
    const outcome = evaluateThreshold(testTop.confidence, testTop.correct, choice.threshold);
    return {
      targetPrecision: target,
      threshold: Number.isFinite(choice.threshold) ? choice.threshold : null,
      validationCoverage: choice.coverage,
      testPrecision: outcome.precision,
      testCoverage: outcome.coverage,
      testOracleCoverage: oracleCoverage(testTop.confidence, testTop.correct, target),
    };
  });
  const { perClass: _validationPerClass, ...validationSummary } = validationMetrics;
  return {
    modelId: input.modelId,
    numClasses,
    temperature,
    validation: validationSummary,
    test: testMetrics,
    coverage,
  };
}

export interface MarkdownOptions {
  /** Classes listed in the worst-F1 table. Default 15. */
  worstClasses?: number;
  /** A class needs this many test rows to be listed among the worst (tiny classes are noise). Default 5. */
  minSupport?: number;
  /** Chapter descriptions for the tables (e.g. from the nomenclature). Default: codes only. */
  describeChapter?: (chapter: string) => string | undefined;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
const num = (x: number, digits = 3): string => x.toFixed(digits);

export function renderMarkdownReport(report: EvaluationReport, options: MarkdownOptions = {}): string {
  const chapterName = (chapter: string): string => {
    const description = options.describeChapter?.(chapter);
    return description
      ? `${chapter} (${description.length > 40 ? `${description.slice(0, 39)}…` : description})`
      : chapter;
  };
  const t = report.test;
  const h = t.hierarchicalAccuracy;
  const lines: string[] = [
    `# Evaluation of ${report.modelId}`,
    '',
    `${t.n} test items, ${report.numClasses} classes.`,
    '',
    '| metric | validation | test |',
    '|---|---|---|',
    `| accuracy@1 | ${pct(report.validation.accuracyAt1)} | ${pct(t.accuracyAt1)} |`,
    `| accuracy@5 | ${pct(report.validation.accuracyAt5)} | ${pct(t.accuracyAt5)} |`,
    `| macro-F1 | ${num(report.validation.macroF1)} | ${num(t.macroF1)} |`,
    `| accuracy HS2 / HS4 / HS6 | – | ${pct(h.hs2)} / ${h.hs4 === null ? '–' : pct(h.hs4)} / ${h.hs6 === null ? '–' : pct(h.hs6)} |`,
    `| NLL | ${num(report.validation.nll)} | ${num(t.nll)} |`,
    `| ECE (15 bins) | ${num(report.validation.ece)} | ${num(t.ece)} |`,
    '',
    report.temperature
      ? `Temperature ${num(report.temperature.temperature)} (validation NLL ${num(report.temperature.nllBefore)} → ${num(report.temperature.nllAfter)}).`
      : 'No temperature scaling.',
    '',
    '## Automatic decisions',
    '',
    'Threshold chosen on validation, measured on test; the oracle column chooses it on test (as the peers do).',
    '',
    '| target precision | threshold | test precision | test coverage | oracle coverage |',
    '|---|---|---|---|---|',
    ...report.coverage.map(
      (c) =>
        `| ${pct(c.targetPrecision)} | ${c.threshold === null ? 'none' : num(c.threshold, 4)} | ${pct(c.testPrecision)} | ${pct(c.testCoverage)} | ${pct(c.testOracleCoverage)} |`,
    ),
    '',
    '## Worst chapters',
    '',
    '| chapter | accuracy | items |',
    '|---|---|---|',
    ...t.chapterAccuracy
      .slice(0, 10)
      .map((c) => `| ${chapterName(c.chapter)} | ${pct(c.accuracy)} | ${c.support} |`),
    '',
    '## Most confused chapter pairs',
    '',
    '| true chapter | predicted chapter | items |',
    '|---|---|---|',
    ...t.topChapterConfusions.map(
      (c) => `| ${chapterName(c.trueChapter)} | ${chapterName(c.predictedChapter)} | ${c.count} |`,
    ),
    '',
    '## Worst classes',
    '',
    '| code | F1 | precision | recall | support |',
    '|---|---|---|---|---|',
    ...[...t.perClass]
      .filter((c) => c.support >= (options.minSupport ?? 5))
      .sort((a, b) => a.f1 - b.f1 || b.support - a.support)
      .slice(0, options.worstClasses ?? 15)
      .map((c) => `| ${c.code} | ${num(c.f1)} | ${num(c.precision)} | ${num(c.recall)} | ${c.support} |`),
    '',
  ];
  return lines.join('\n');
}

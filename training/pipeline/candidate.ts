/**
 * One candidate from data to model package: split → balance → train (progress, resumable checkpoints) →
 * temperature on validation → auto thresholds for the target precision on validation → evaluation on the
 * held-out test part (or a separate test set) → ONNX export → parity re-check through the serving loader (onnxruntime-node) → package.
 * Everything is seeded by the spec, so the same dataset and spec give the same `model.onnx` bytes.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { loadServingModel } from '../../shared/inference/model';
import { encodeTokenLists } from '../../shared/inference/features';
import type { Nomenclature } from '../../shared/hs/nomenclature';
import { createRandom } from '../../shared/math/random';
import { buildModelPackage, sha256Hex, type ModelManifest } from '../../shared/model-package';
import {
  MONITORING_REFERENCE_FILE,
  buildMonitoringReference,
  serializeMonitoringReference,
} from '../../shared/monitoring/reference';
import {
  buildVocabulary,
  describeEncoder,
  encodeBag,
  isCharacterNgramFeature,
  normalizeText,
  tokenize,
  type BagBatch,
  type TextEncoderConfig,
} from '../../shared/text/encoder';
import { classWeights, upsampleMinorityClasses } from '../data/balance';
import { stratifiedSplit } from '../data/split';
import { chooseThreshold } from '../evaluation/coverage';
import { topOneCorrect } from '../evaluation/metrics';
import { evaluateModel, type EvaluationReport } from '../evaluation/report';
import { softmaxRows } from '../evaluation/scores';
import { GruModel, DEFAULT_GRU } from '../models/gru';
import { bagExamples, createBagModel } from '../models';
import { inverseDocumentFrequencies } from '../models/feature-weights';
import type { Model, Sized } from '../models/model';
import { DEFAULT_TEXTCNN, TextCnnModel } from '../models/textcnn';
import { createOnnxHeadEngine } from '../nn/head-engine';
import { FEATURES_PER_TOKEN, packTexts, packedExampleSet } from '../nn/sequence/packed';
import { INPUT_NAME, LOGITS_NAME, exportBagModel } from '../onnx/export';
import { exportSequenceModel } from '../onnx/sequence';
import { exportLinearSvm } from '../onnx/svm';
import { DEFAULT_SVM, LinearSvmModel, sparseExamples, trainLinearSvm } from '../models/svm';
import {
  accuracyAt1,
  predictLogits,
  train,
  type ExampleSet,
  type TrainerConfig,
  type TrainingProgress,
  type TrainingResult,
} from '../trainer';
import { candidateEncoder, effectiveHyperParameters, type CandidateSpec, type HyperParameters } from './spec';

/** Labelled rows as the CSV reader returns them. */
export interface CandidateData {
  readonly texts: readonly string[];
  readonly labels: Int32Array;
  readonly labelSet: readonly string[];
}

export interface DatasetIdentity {
  readonly version: string;
  readonly contentHash: string;
}

export interface PipelineSplit {
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly test: Int32Array;
}

/**
 * Train / validation / test, stratified, with equal normalised descriptions always on one side (a repeated line
 * must not be "predicted" in test after being learnt in training). Depends only on the data and the split seed,
 * so every candidate of a pipeline, and the champion, are measured on the same test rows.
 */
export function splitForPipeline(
  data: CandidateData,
  spec: Pick<CandidateSpec, 'splitSeed' | 'testFraction' | 'validationFraction'>,
): PipelineSplit {
  const keys = data.texts.map((text) => normalizeText(text));
  const outer = stratifiedSplit(data.labels, {
    validationFraction: spec.testFraction,
    seed: spec.splitSeed,
    groupKeys: keys,
  });
  return { ...splitTrainValidation(data, keys, outer.train, spec), test: outer.validation };
}

/** Train / validation over `rows` of the data (stratified, repeated descriptions on one side). */
function splitTrainValidation(
  data: CandidateData,
  keys: readonly string[],
  rows: Int32Array,
  spec: Pick<CandidateSpec, 'splitSeed' | 'validationFraction'>,
): Omit<PipelineSplit, 'test'> {
  const inner = stratifiedSplit(
    Int32Array.from(rows, (i) => data.labels[i]!),
    {
      validationFraction: spec.validationFraction,
      seed: spec.splitSeed + 1,
      groupKeys: Array.from(rows, (i) => keys[i]!),
    },
  );
  return {
    train: Int32Array.from(inner.train, (i) => rows[i]!),
    validation: Int32Array.from(inner.validation, (i) => rows[i]!),
  };
}

/**
 * Labelled rows to test on instead of a held-out part of the data, as `readLabelledCsv` returns them when given the
 * data's label set with `unseenLabels: 'append'`: `labelSet` starts with the data's, and codes the data lacks come
 * after it (no model can predict them: they count as errors).
 */
export interface SeparateTestSet {
  readonly texts: readonly string[];
  readonly labels: Int32Array;
  readonly labelSet: readonly string[];
  readonly identity: DatasetIdentity;
}

/**
 * The rows a candidate works on and how they are split. With a separate test set, every data row is trained or
 * validated on and the test rows are appended after them (so one row index space serves both); otherwise the test
 * part is split off the data.
 */
function arrangeRows(
  data: CandidateData,
  spec: CandidateSpec,
  testSet: SeparateTestSet | undefined,
): { rows: CandidateData; split: PipelineSplit; evaluationLabelSet: readonly string[] } {
  if (!testSet) return { rows: data, split: splitForPipeline(data, spec), evaluationLabelSet: data.labelSet };
  if (testSet.texts.length !== testSet.labels.length) throw new Error('test set: one label per text needed');
  if (testSet.texts.length === 0) throw new Error('test set: no rows');
  if (data.labelSet.some((code, i) => testSet.labelSet[i] !== code))
    throw new Error(
      "test set: its label set must start with the training data's (read it with that label set)",
    );
  const dataRows = data.texts.length;
  const all = Int32Array.from({ length: dataRows }, (_, i) => i);
  const keys = data.texts.map((text) => normalizeText(text));
  return {
    rows: {
      texts: [...data.texts, ...testSet.texts],
      labels: Int32Array.from([...data.labels, ...testSet.labels]),
      labelSet: data.labelSet,
    },
    split: {
      ...splitTrainValidation(data, keys, all, spec),
      test: Int32Array.from({ length: testSet.texts.length }, (_, i) => dataRows + i),
    },
    evaluationLabelSet: testSet.labelSet,
  };
}

export interface CandidateHooks {
  /** Called after every epoch, once its checkpoint is on disk. */
  onEpoch?: (progress: TrainingProgress) => void;
  /** Stage changes ('encoding', 'training', 'evaluating', 'exporting', 'parity', 'packaging'). */
  onStage?: (stage: string) => void;
}

export interface CandidateOptions {
  readonly dataset: DatasetIdentity;
  readonly modelVersion: string;
  /** Checkpoint file of the trainer; an existing one is resumed. Default none. */
  readonly checkpointPath?: string | null;
  /** Manifest creation time; pass a fixed one (e.g. the pipeline's start) to make whole packages reproducible. */
  readonly createdAt: string;
  readonly codeVersion: string;
  readonly nomenclature: Nomenclature;
  /**
   * Test on these rows instead of splitting a test part off the data (`npm run train -- --test FILE`): the model
   * then learns from every data row, as a model compared with others trained on the whole file should.
   */
  readonly testSet?: SeparateTestSet;
}

export interface CandidateResult {
  readonly modelVersion: string;
  readonly manifest: ModelManifest;
  /** Package files, manifest included. */
  readonly files: Map<string, Uint8Array>;
  readonly packageHash: string;
  /** sha256 of model.onnx: the weights, independent of names and times; equal for equal dataset + spec. */
  readonly modelHash: string;
  readonly evaluation: EvaluationReport;
  /** Per test row (in `split.test` order): whether the top-1 code was right. */
  readonly testCorrect: Uint8Array;
  readonly parityMaxDifference: number;
  readonly history: readonly TrainingProgress[];
  readonly bestEpoch: number;
  readonly split: { readonly train: number; readonly validation: number; readonly test: number };
}

const MODEL_FILE = 'model.onnx';

function numberParam(params: HyperParameters, name: string): number {
  const value = params[name];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RangeError(`hyper-parameter ${name} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

function featureWeightingParam(params: HyperParameters): 'idf' | 'none' {
  const value = params.featureWeighting ?? 'none';
  if (value !== 'idf' && value !== 'none')
    throw new RangeError(
      `hyper-parameter featureWeighting must be 'idf' or 'none', got ${JSON.stringify(value)}`,
    );
  return value;
}

/**
 * The encoder a candidate trains and serves with: the spec's, plus a vocabulary learned from the training part
 * when `minCount` > 0 (bag architectures). Learned from the split's training rows only, so validation and test
 * features it never saw are dropped exactly as unseen serving features will be; the split is seeded, so a resumed
 * run learns the same vocabulary.
 */
export function learnedEncoder(
  spec: CandidateSpec,
  params: HyperParameters,
  data: CandidateData,
  trainRows: Int32Array,
): TextEncoderConfig {
  const base = candidateEncoder(spec);
  const minCount = params.minCount ?? 0;
  if (minCount === 0) return base;
  if (typeof minCount !== 'number' || !Number.isInteger(minCount) || minCount < 0)
    throw new RangeError(`hyper-parameter minCount must be an integer >= 0, got ${JSON.stringify(minCount)}`);
  const wordMinCount = params.wordMinCount ?? minCount;
  if (typeof wordMinCount !== 'number' || !Number.isInteger(wordMinCount) || wordMinCount < 1)
    throw new RangeError(
      `hyper-parameter wordMinCount must be an integer >= 1, got ${JSON.stringify(wordMinCount)}`,
    );
  return buildVocabulary(
    Array.from(trainRows, (i) => data.texts[i]!),
    base,
    minCount,
    wordMinCount,
  );
}

/**
 * Identity of what a bag model is built with besides its parameters (vocabulary and feature weights), so a
 * checkpoint written for other ids or weights is refused instead of resumed.
 */
function featureStateTag(encoder: TextEncoderConfig, featureWeights: Float32Array | null): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(encoder.vocabulary ?? null));
  if (featureWeights)
    hash.update(new Uint8Array(featureWeights.buffer, featureWeights.byteOffset, featureWeights.byteLength));
  return `features:${hash.digest('hex').slice(0, 32)}`;
}

interface Prepared<Input extends Sized> {
  readonly model: Model<Input>;
  readonly examples: (rows: Int32Array) => ExampleSet<Input>;
  readonly layout: 'bag' | 'token_grid';
  readonly exportOnnx: (metadata: Parameters<typeof exportBagModel>[1]) => Uint8Array;
  readonly trainer: Partial<TrainerConfig>;
  /** Trains the model another way than the gradient trainer (the svm); absent means `train`. */
  readonly fit?: (run: FitRun) => Promise<TrainingResult>;
}

/** Solver threads of the svm at most (one per core up to this). */
const SVM_MAX_THREADS = 4;

/** One training run of a model that is not trained by gradient steps. */
interface FitRun {
  readonly rows: Int32Array;
  /** Per-class loss weights (balance 'class-weights'), or null. */
  readonly classWeights: Float32Array | null;
  readonly validationRows: Int32Array | null;
  readonly checkpointPath: string | null;
  readonly checkpointTag: string;
  readonly onEpoch: ((progress: TrainingProgress) => void) | undefined;
}

/**
 * Every text encoded as a bag under `encoder`, the idf weights of the training rows' bags, and example sets of any
 * rows: what the bag architectures and the svm share.
 */
function encodedBags(data: CandidateData, encoder: TextEncoderConfig, trainRows: Int32Array) {
  const bags = data.texts.map((text) => encodeBag(text, encoder));
  return {
    bags,
    inverseDocumentFrequencies: (): Float32Array =>
      inverseDocumentFrequencies(
        Array.from(trainRows, (i) => bags[i]!),
        encoder.buckets + 1,
      ),
    examples: (indices: Int32Array): ExampleSet<BagBatch> =>
      bagExamples(
        Array.from(indices, (i) => bags[i]!),
        Int32Array.from(indices, (i) => data.labels[i]!),
      ),
  };
}

/**
 * The linear SVM (one-vs-rest, dual coordinate descent) on the vocabulary's tf-idf features. Its progress is
 * reported per tenth of the classes solved, as "epochs" of 10, and checkpointed at the same points.
 */
function prepareSvm(
  spec: CandidateSpec,
  params: HyperParameters,
  encoder: TextEncoderConfig,
  data: CandidateData,
  classes: number,
  trainRows: Int32Array,
): Prepared<BagBatch> {
  if (featureWeightingParam(params) !== 'idf')
    throw new RangeError("hyper-parameter featureWeighting must be 'idf' for the svm");
  const { bags, inverseDocumentFrequencies: idf, examples } = encodedBags(data, encoder, trainRows);
  const model = new LinearSvmModel({
    ...DEFAULT_SVM,
    kind: 'svm',
    rows: encoder.buckets + 1,
    classes,
    c: numberParam(params, 'c'),
    tolerance: numberParam(params, 'tolerance'),
    pruneBelow: numberParam(params, 'pruneBelow'),
  });
  model.setFeatureWeights(idf());
  model.setFeatureGroups(characterNgramGroups(encoder));
  return {
    model,
    examples,
    layout: 'bag',
    exportOnnx: (metadata) => exportLinearSvm(model, metadata),
    trainer: {
      checkpointTag: `${featureStateTag(encoder, model.featureWeights)}|${JSON.stringify(model.config)}`,
    },
    fit: async (run) => {
      const { labels } = examples(run.rows);
      const costScale = run.classWeights ? Float32Array.from(labels, (l) => run.classWeights![l]!) : null;
      const sparse = sparseExamples(
        Array.from(run.rows, (i) => bags[i]!),
        labels,
        model.featureWeights,
        model.featureGroups,
        costScale,
      );
      const history: TrainingProgress[] = [];
      const report = (progress: TrainingProgress): void => {
        history.push(progress);
        run.onEpoch?.(progress);
      };
      const validation = run.validationRows ? examples(run.validationRows) : null;
      // The last chunk's report waits for the validation score, which needs every class solved.
      let lastChunk: TrainingProgress | null = null;
      await trainLinearSvm(model, sparse, {
        seed: spec.seed,
        // Classes are independent problems: every core solves some (the weights do not depend on how many).
        threads: Math.min(SVM_MAX_THREADS, availableParallelism()),
        checkpointPath: run.checkpointPath,
        checkpointTag: `${run.checkpointTag}|seed:${spec.seed}|rows:${rowsHash(run.rows)}`,
        onProgress: (p) => {
          const progress = {
            epoch: p.chunk,
            epochs: p.chunks,
            loss: p.loss,
            validationAccuracy: NaN,
            elapsedSeconds: p.elapsedSeconds,
          };
          if (p.chunk === p.chunks && validation) lastChunk = progress;
          else report(progress);
        },
      });
      const validationLogits = validation ? await predictLogits(model, validation) : new Float32Array(0);
      if (lastChunk !== null) {
        report({
          ...(lastChunk as TrainingProgress),
          validationAccuracy: accuracyAt1(validationLogits, validation!.labels, classes),
        });
      }
      return { bestEpoch: 1, history, validationLogits, stoppedEarly: false };
    },
  };
}

/**
 * Feature group per row for the svm's normalisation: 1 for character n-grams of the encoder's vocabulary, 0 for
 * the rest. A hashed encoder cannot tell them apart: one group.
 */
function characterNgramGroups(encoder: TextEncoderConfig): Uint8Array {
  const groups = new Uint8Array(encoder.buckets + 1);
  encoder.vocabulary?.forEach((feature, index) => {
    if (isCharacterNgramFeature(feature)) groups[index + 1] = 1;
  });
  return groups;
}

/** Short identity of a list of row indices (which rows, in which order, duplicates included). */
function rowsHash(rows: Int32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength))
    .digest('hex')
    .slice(0, 16);
}

function prepare(
  spec: CandidateSpec,
  params: HyperParameters,
  encoder: TextEncoderConfig,
  data: CandidateData,
  classes: number,
  trainRows: Int32Array,
): Prepared<Sized> {
  if (spec.arch === 'svm') return prepareSvm(spec, params, encoder, data, classes, trainRows);
  const rows = encoder.buckets + 1;
  const rng = createRandom(spec.seed);
  const lr = numberParam(params, 'lr');
  const batchSize = Math.round(numberParam(params, 'batchSize'));
  const labelsOf = (indices: Int32Array): Int32Array => Int32Array.from(indices, (i) => data.labels[i]!);
  if (spec.arch === 'textcnn' || spec.arch === 'gru') {
    const packed = packTexts(data.texts, encoder, FEATURES_PER_TOKEN);
    const all = packedExampleSet(packed, data.labels);
    const model =
      spec.arch === 'textcnn'
        ? new TextCnnModel(
            {
              ...DEFAULT_TEXTCNN,
              kind: 'textcnn',
              widths: [...DEFAULT_TEXTCNN.widths],
              rows,
              classes,
              dim: Math.round(numberParam(params, 'dim')),
              filters: Math.round(numberParam(params, 'filters')),
              dropout: numberParam(params, 'dropout'),
            },
            rng,
          )
        : new GruModel(
            {
              ...DEFAULT_GRU,
              kind: 'gru',
              rows,
              classes,
              dim: Math.round(numberParam(params, 'dim')),
              hidden: Math.round(numberParam(params, 'hidden')),
              dropout: numberParam(params, 'dropout'),
            },
            rng,
          );
    return {
      model: model,
      examples: (indices) => {
        const labels = labelsOf(indices);
        return {
          size: indices.length,
          labels,
          batch: (b) => all.batch(Int32Array.from(b, (k) => indices[k]!)),
        };
      },
      layout: 'token_grid',
      exportOnnx: (metadata) => exportSequenceModel(model, metadata),
      trainer: { batchSize, schedule: { base: lr, warmupSteps: 100, decay: 'linear', finalFactor: 0 } },
    };
  }
  const encoded = encodedBags(data, encoder, trainRows);
  const featureWeighting = featureWeightingParam(params);
  const model = createBagModel(
    spec.arch === 'linear'
      ? { kind: 'linear', rows, classes, featureWeighting }
      : {
          kind: spec.arch,
          rows,
          classes,
          dim: Math.round(numberParam(params, 'dim')),
          hidden: spec.arch === 'dnn' ? [Math.round(numberParam(params, 'hidden'))] : [],
          dropout: numberParam(params, 'dropout'),
          pooling: 'sqrt',
          featureWeighting,
        },
    rng,
  );
  // Fixed statistics of the training part, set before the trainer restores a checkpoint's parameters, so a
  // resumed model and an uninterrupted one pool with the same weights (the checkpoint tag checks it).
  if (featureWeighting === 'idf') model.setFeatureWeights(encoded.inverseDocumentFrequencies());
  const checkpointTag = featureStateTag(encoder, model.featureWeights);
  return {
    model: model,
    examples: encoded.examples,
    layout: 'bag',
    exportOnnx: (metadata) => exportBagModel(model, metadata),
    trainer:
      spec.arch === 'linear'
        ? {
            batchSize,
            optimizer: { kind: 'sgd', weightDecay: 0 },
            schedule: { base: lr, warmupSteps: 0, decay: 'linear', finalFactor: 0 },
            clipNorm: 0,
            checkpointTag,
          }
        : {
            batchSize,
            schedule: { base: lr, warmupSteps: 100, decay: 'linear', finalFactor: 0 },
            checkpointTag,
          },
  };
}

/** Checkpoint file of the refit phase, beside the first phase's (`<path>.refit`). */
export function refitCheckpointPath(checkpointPath: string): string {
  return `${checkpointPath}.refit`;
}

/** The training rows after the spec's class-imbalance remedy: up-sampled rows, or per-class loss weights. */
function balancedRows(
  spec: CandidateSpec,
  data: CandidateData,
  classes: number,
  rows: Int32Array,
): { rows: Int32Array; weights: Float32Array | null } {
  if (spec.balance === 'upsample')
    return {
      rows: upsampleMinorityClasses(data.labels, { minCount: 3, maxMultiplier: 3, seed: spec.seed }, rows),
      weights: null,
    };
  if (spec.balance === 'class-weights')
    return { rows, weights: classWeights(data.labels, classes, {}, rows) };
  return { rows, weights: null };
}

/** Calibrated heading confidence (sum over the top class's heading) and whether that heading is right. */
function headingScores(
  probabilities: Float32Array,
  labels: Int32Array,
  labelSet: readonly string[],
  classes: number,
): { confidence: Float32Array; correct: Uint8Array } {
  const headingOf = labelSet.slice(0, classes).map((code) => code.slice(0, 4));
  const confidence = new Float32Array(labels.length);
  const correct = new Uint8Array(labels.length);
  for (let r = 0; r < labels.length; r++) {
    const row = probabilities.subarray(r * classes, (r + 1) * classes);
    let best = 0;
    for (let c = 1; c < classes; c++) if (row[c]! > row[best]!) best = c;
    let sum = 0;
    for (let c = 0; c < classes; c++) if (headingOf[c] === headingOf[best]) sum += row[c]!;
    confidence[r] = Math.min(1, sum);
    correct[r] = labelSet[labels[r]!]?.slice(0, 4) === headingOf[best] ? 1 : 0;
  }
  return { confidence, correct };
}

function topOne(logits: Float32Array, classes: number, row: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[row * classes + c]! > logits[row * classes + best]!) best = c;
  return best;
}

export async function trainCandidate(
  input: CandidateData,
  spec: CandidateSpec,
  options: CandidateOptions,
  hooks: CandidateHooks = {},
): Promise<CandidateResult> {
  const stage = hooks.onStage ?? (() => {});
  const classes = input.labelSet.length;
  if (classes < 2) throw new Error(`training needs at least two classes, the data has ${classes}`);
  const params = effectiveHyperParameters(spec);
  const { rows: data, split, evaluationLabelSet } = arrangeRows(input, spec, options.testSet);
  stage('encoding');
  const encoder = learnedEncoder(spec, params, data, split.train);
  const prepared = prepare(spec, params, encoder, data, classes, split.train);
  const balanced = balancedRows(spec, data, classes, split.train);
  stage('training');
  const trained = prepared.fit
    ? await prepared.fit({
        rows: balanced.rows,
        classWeights: balanced.weights,
        validationRows: split.validation,
        checkpointPath: options.checkpointPath ?? null,
        checkpointTag: prepared.trainer.checkpointTag ?? 'weights',
        onEpoch: hooks.onEpoch,
      })
    : await train(
        prepared.model,
        prepared.examples(balanced.rows),
        prepared.examples(split.validation),
        {
          ...prepared.trainer,
          epochs: spec.epochs,
          seed: spec.seed,
          classWeights: balanced.weights,
          checkpointPath: options.checkpointPath ?? null,
        },
        hooks.onEpoch,
      );

  // The model that ships: the validated one, or the same recipe refitted on training + validation.
  let final = { encoder, prepared, trainRows: split.train };
  if (spec.refit) {
    stage('refitting');
    const refitRows = Int32Array.from([...split.train, ...split.validation]);
    const refitEncoder = learnedEncoder(spec, params, data, refitRows);
    const refitPrepared = prepare(spec, params, refitEncoder, data, classes, refitRows);
    const refitBalanced = balancedRows(spec, data, classes, refitRows);
    const refitCheckpoint = options.checkpointPath ? refitCheckpointPath(options.checkpointPath) : null;
    if (refitPrepared.fit) {
      // A convex problem solved to a tolerance: nothing to stop early, the same solver on more rows.
      await refitPrepared.fit({
        rows: refitBalanced.rows,
        classWeights: refitBalanced.weights,
        validationRows: null,
        checkpointPath: refitCheckpoint,
        checkpointTag: `${refitPrepared.trainer.checkpointTag ?? 'weights'}|refit`,
        onEpoch: hooks.onEpoch,
      });
    } else
      await train(
        refitPrepared.model,
        refitPrepared.examples(refitBalanced.rows),
        null,
        {
          ...refitPrepared.trainer,
          // The first run's schedule, stopped where it was best: the same learning rates on more rows, so the
          // refitted model's confidence stays close to the one its temperature and thresholds were chosen for.
          epochs: spec.epochs,
          stopAfterEpochs: trained.bestEpoch,
          seed: spec.seed,
          classWeights: refitBalanced.weights,
          checkpointPath: refitCheckpoint,
          // Both counts shape the learning rates, so a refit checkpoint is only resumed into the same run.
          checkpointTag: `${refitPrepared.trainer.checkpointTag ?? 'weights'}|refit:${trained.bestEpoch}/${spec.epochs}`,
        },
        hooks.onEpoch,
      );
    final = { encoder: refitEncoder, prepared: refitPrepared, trainRows: refitRows };
  }

  stage('evaluating');
  const testSet = final.prepared.examples(split.test);
  const head = final.prepared.model.head;
  const engine = head ? await createOnnxHeadEngine(head.inputs, classes) : null;
  let testLogits: Float32Array;
  try {
    testLogits = await predictLogits(final.prepared.model, testSet, engine);
  } finally {
    await engine?.close();
  }
  const validationLabels = Int32Array.from(split.validation, (i) => data.labels[i]!);
  const testLabels = testSet.labels;
  const evaluation = evaluateModel({
    modelId: options.modelVersion,
    labelSet: evaluationLabelSet,
    numClasses: classes,
    validation: { scores: trained.validationLogits, labels: validationLabels },
    test: { scores: testLogits, labels: testLabels },
    targetPrecisions: [spec.targetPrecision],
  });
  const temperature = evaluation.temperature?.temperature ?? 1;
  const coverage = evaluation.coverage[0]!;
  const validationProbabilities = softmaxRows(trained.validationLogits, classes, temperature);
  const validationTop = topOneCorrect(validationProbabilities, validationLabels, classes);
  const autoChoice = chooseThreshold(validationTop.confidence, validationTop.correct, spec.targetPrecision);
  const headingChoice = (() => {
    const scores = headingScores(validationProbabilities, validationLabels, data.labelSet, classes);
    return chooseThreshold(scores.confidence, scores.correct, spec.targetPrecision);
  })();
  const testCorrect = Uint8Array.from(testLabels, (label, r) =>
    topOne(testLogits, classes, r) === label ? 1 : 0,
  );

  stage('exporting');
  const onnx = final.prepared.exportOnnx({
    encoder: describeEncoder(final.encoder),
    classNames: data.labelSet,
    // No model version in the graph: its bytes must depend on the data and the settings only.
    extra: { dataset_version: options.dataset.version },
  });
  const testProbabilities = softmaxRows(testLogits, classes, temperature);
  const reference = buildMonitoringReference({
    modelVersion: options.modelVersion,
    createdAt: options.createdAt,
    trainingTexts: Array.from(final.trainRows, (i) => data.texts[i]!),
    heldOut: Array.from(split.test, (row, r) => {
      const best = topOne(testLogits, classes, r);
      return {
        text: data.texts[row]!,
        chapter: data.labelSet[best]!.slice(0, 2),
        topConfidence: testProbabilities[r * classes + best]!,
      };
    }),
    chapterCodes: [...new Set(data.labelSet.map((code) => code.slice(0, 2)))].sort(),
    tokenizer: final.encoder,
  });
  const metrics: Record<string, number> = {
    'test.accuracyAt1': evaluation.test.accuracyAt1,
    'test.accuracyAt5': evaluation.test.accuracyAt5,
    'test.macroF1': evaluation.test.macroF1,
    'test.ece': evaluation.test.ece,
    'test.coverageAtTarget': coverage.testCoverage,
    'test.precisionAtTarget': coverage.testPrecision,
    'validation.accuracyAt1': evaluation.validation.accuracyAt1,
    'validation.coverageAtTarget': coverage.validationCoverage,
    'train.bestEpoch': trained.bestEpoch,
    ...(spec.refit ? { 'train.refitRows': final.trainRows.length } : {}),
    'split.test': split.test.length,
  };
  stage('packaging');
  const built = buildModelPackage(
    {
      modelVersion: options.modelVersion,
      createdAt: options.createdAt,
      arch: {
        kind: spec.arch,
        config: { ...final.prepared.model.config },
        inputLayout: final.prepared.layout,
      },
      onnx: {
        file: MODEL_FILE,
        input: INPUT_NAME,
        logits: LOGITS_NAME,
        maxFeatures: 512,
        ...(final.prepared.layout === 'token_grid' ? { perToken: FEATURES_PER_TOKEN } : {}),
      },
      encoder: describeEncoder(final.encoder),
      labels: { level: 6, codes: [...data.labelSet] },
      temperature,
      thresholds: {
        // A target no validation threshold reaches means nothing is decided automatically.
        auto: Number.isFinite(autoChoice.threshold) ? autoChoice.threshold : 1,
        autoPrecision: autoChoice.precision,
        heading: Number.isFinite(headingChoice.threshold) ? headingChoice.threshold : 1,
        headingPrecision: headingChoice.precision,
        targetPrecision: spec.targetPrecision,
      },
      metrics,
      dataset: options.dataset,
      ...(options.testSet ? { testDataset: options.testSet.identity } : {}),
      hyperParameters: {
        ...params,
        epochs: spec.epochs,
        refit: spec.refit,
        balance: spec.balance,
        splitSeed: spec.splitSeed,
        // No test part is split off when the test rows come apart.
        ...(options.testSet ? {} : { testFraction: spec.testFraction }),
        validationFraction: spec.validationFraction,
      },
      seed: spec.seed,
      codeVersion: options.codeVersion,
    },
    new Map([
      [MODEL_FILE, onnx],
      [MONITORING_REFERENCE_FILE, serializeMonitoringReference(reference)],
    ]),
  );

  // The parity check goes through the serving loader and the serving encoder, so what is compared is exactly
  // what production will run.
  stage('parity');
  const parityRows = split.test.subarray(0, Math.min(spec.parityRows, split.test.length));
  const parityMaxDifference = await onnxParity(
    built.manifest,
    built.files,
    built.packageHash,
    options.nomenclature,
    Array.from(parityRows, (i) => data.texts[i]!),
    testLogits.subarray(0, parityRows.length * classes),
    classes,
  );
  if (!(parityMaxDifference <= spec.parityTolerance)) {
    throw new Error(
      `ONNX parity failed for ${options.modelVersion}: max probability difference ${parityMaxDifference} > ${spec.parityTolerance}`,
    );
  }
  return {
    modelVersion: options.modelVersion,
    manifest: built.manifest,
    files: built.files,
    packageHash: built.packageHash,
    modelHash: sha256Hex(onnx),
    evaluation,
    testCorrect,
    parityMaxDifference,
    history: trained.history,
    bestEpoch: trained.bestEpoch,
    split: { train: split.train.length, validation: split.validation.length, test: split.test.length },
  };
}

/** Max |p_onnx − p_typescript| over the rows (uncalibrated softmax on both sides). */
async function onnxParity(
  manifest: ModelManifest,
  files: ReadonlyMap<string, Uint8Array>,
  packageHash: string,
  nomenclature: Nomenclature,
  texts: readonly string[],
  expectedLogits: Float32Array,
  classes: number,
): Promise<number> {
  if (texts.length === 0) return 0;
  const serving = await loadServingModel(
    { manifest, files, packageHash, location: `(candidate ${manifest.modelVersion})` },
    nomenclature,
  );
  try {
    const encoder = serving.encoder;
    const input = encodeTokenLists(
      texts.map((text) => tokenize(text, encoder)),
      encoder,
      {
        layout: manifest.arch.inputLayout,
        maxFeatures: manifest.onnx.maxFeatures,
        perToken: manifest.onnx.perToken ?? FEATURES_PER_TOKEN,
      },
    );
    const actual = softmaxRows(await serving.run(input), classes);
    const expected = softmaxRows(expectedLogits, classes);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
    return worst;
  } finally {
    await serving.release();
  }
}

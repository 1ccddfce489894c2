/**
 * What one training candidate is: an architecture, its hyper-parameters, a seed and the training settings. A spec
 * is plain JSON so the retraining orchestration can hand it to an activity, and the same spec on the same dataset
 * yields the same model (every random draw is seeded from it).
 */
import {
  DEFAULT_ENCODER_CONFIG,
  resolveEncoderConfig,
  type TextEncoderConfig,
} from '../../shared/text/encoder';
import type { SearchSpace } from '../tuning/space';

export const ARCHITECTURES = ['linear', 'svm', 'bag', 'dnn', 'textcnn', 'gru'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export function isArchitecture(value: unknown): value is Architecture {
  return typeof value === 'string' && (ARCHITECTURES as readonly string[]).includes(value);
}

export type HyperParameters = Record<string, number | string | boolean>;

export interface CandidateSpec {
  readonly arch: Architecture;
  /** Overrides of the architecture's defaults (see `ARCH_DEFAULTS`). Default {}. */
  readonly hyperParameters: HyperParameters;
  /** Seeds initialisation, shuffling and dropout. The data split has its own seed (`splitSeed`). */
  readonly seed: number;
  /** Maximum epochs (early stopping may end sooner). Default per architecture (`DEFAULT_EPOCHS`). */
  readonly epochs: number;
  /** Class-imbalance remedy: 'none', 'upsample' (stratified, to 3 rows per class, at most 3x) or 'class-weights'. Default 'upsample'. */
  readonly balance: 'none' | 'upsample' | 'class-weights';
  /** Seed of the train / validation / test split; shared by every candidate of a pipeline. Default 0. */
  readonly splitSeed: number;
  /** Share of each class held out for the final test. Default 0.15. */
  readonly testFraction: number;
  /** Share of each class (of what remains) used for early stopping, calibration and thresholds. Default 0.15. */
  readonly validationFraction: number;
  /**
   * After early stopping has picked the number of epochs on validation, train again from scratch on training +
   * validation rows (vocabulary and idf relearned), with the first run's learning-rate schedule stopped at that
   * epoch, and ship that model. Temperature and thresholds stay those chosen on validation with the first model;
   * test metrics are the refitted model's.
   * Default per architecture (`DEFAULT_REFIT`).
   */
  readonly refit: boolean;
  /** Precision the auto threshold is chosen for, on validation. Default 0.98. */
  readonly targetPrecision: number;
  /** Test rows whose ONNX Runtime probabilities are compared with the TypeScript forward pass. Default 256. */
  readonly parityRows: number;
  /** Largest allowed absolute difference of a probability in that comparison. Default 1e-4. */
  readonly parityTolerance: number;
  /**
   * Encoder overrides; default `DEFAULT_ENCODER_CONFIG` (2^14 buckets for 'linear', whose table is buckets x
   * classes). With a learned vocabulary (hyper-parameter `minCount` > 0) `buckets` becomes the vocabulary's size.
   */
  readonly encoder?: Partial<TextEncoderConfig>;
}

export const DEFAULT_CANDIDATE: Readonly<Omit<CandidateSpec, 'arch' | 'epochs' | 'refit'>> = Object.freeze({
  hyperParameters: {},
  seed: 1,
  balance: 'upsample',
  splitSeed: 0,
  testFraction: 0.15,
  validationFraction: 0.15,
  targetPrecision: 0.98,
  parityRows: 256,
  parityTolerance: 1e-4,
});

/**
 * Maximum epochs per architecture. The bag model with a learned vocabulary and idf keeps improving on validation
 * up to ~15 epochs on the development data (its learning rate decays to 0 over the run, so more epochs also means
 * a slower decay); the others were tuned at 5.
 */
export const DEFAULT_EPOCHS: Readonly<Record<Architecture, number>> = Object.freeze({
  linear: 5,
  // Not trained in epochs: each class's problem is solved to the `tolerance` hyper-parameter.
  svm: 1,
  bag: 15,
  dnn: 5,
  textcnn: 5,
  gru: 5,
});

/**
 * Whether an architecture refits on training + validation by default (`CandidateSpec.refit`). On for the pipeline's
 * default model, the bag: it trains in about two minutes, so twice that is affordable, and the 15 % of rows it gets
 * back are worth about a point of accuracy@1 (BENCHMARKS.md). Off for the sequence models, whose training time is
 * compared with the PyTorch peer's, and for the rest until measured.
 */
export const DEFAULT_REFIT: Readonly<Record<Architecture, boolean>> = Object.freeze({
  linear: false,
  // Nothing is chosen on validation but the temperature and thresholds, so the refit is the same solve on more rows.
  svm: true,
  bag: true,
  dnn: false,
  textcnn: false,
  gru: false,
});

/**
 * Default hyper-parameters per architecture; `lr` is the base learning rate of the trainer's schedule. For the bag
 * architectures (linear, bag, dnn): `minCount` > 0 learns the encoder's vocabulary from the training part (features
 * in at least that many texts; no hash collisions) and 0 hashes; `featureWeighting` 'idf' weights each feature by
 * its inverse document frequency in the training part and L2-normalises the bag (tf-idf), 'none' does not.
 */
export const ARCH_DEFAULTS: Readonly<Record<Architecture, HyperParameters>> = Object.freeze({
  // Hashed: a vocabulary-sized table (~50k rows x 2,400 classes) is over the memory budget for this one.
  linear: { lr: 60, batchSize: 64, minCount: 0, featureWeighting: 'none' },
  // The paper's SVC as scikit-learn's LinearSVC defines it (squared hinge, C 0.5 as the peer), on the vocabulary's
  // tf-idf features, words and character n-grams normalised apart. Its weights are sparse, so rare words cost no
  // dense table: every word seen once is kept, n-grams seen twice. Weights under 0.01 are dropped (BENCHMARKS.md).
  svm: { c: 0.5, tolerance: 0.1, minCount: 2, wordMinCount: 1, pruneBelow: 0.01, featureWeighting: 'idf' },
  // bench/train-dev.ts, development split: acc@1 0.662 with vocabulary + idf vs 0.647 hashed (BENCHMARKS.md).
  bag: { lr: 2e-3, dim: 200, dropout: 0.3, batchSize: 64, minCount: 3, featureWeighting: 'idf' },
  dnn: {
    lr: 2e-3,
    dim: 128,
    hidden: 256,
    dropout: 0.2,
    batchSize: 64,
    minCount: 0,
    featureWeighting: 'none',
  },
  textcnn: { lr: 2e-3, dim: 64, filters: 128, dropout: 0.3, batchSize: 128 },
  gru: { lr: 2e-3, dim: 64, hidden: 128, dropout: 0.2, batchSize: 64 },
});

/** What TPE searches per architecture. */
export const SEARCH_SPACES: Readonly<Record<Architecture, SearchSpace>> = Object.freeze({
  linear: { lr: { type: 'float', low: 10, high: 200, log: true } },
  svm: { c: { type: 'float', low: 0.1, high: 2, log: true } },
  bag: {
    lr: { type: 'float', low: 5e-4, high: 1e-2, log: true },
    dim: { type: 'int', low: 64, high: 320, log: true },
  },
  dnn: {
    lr: { type: 'float', low: 5e-4, high: 1e-2, log: true },
    hidden: { type: 'int', low: 64, high: 512, log: true },
    dropout: { type: 'float', low: 0, high: 0.5 },
  },
  textcnn: {
    lr: { type: 'float', low: 5e-4, high: 1e-2, log: true },
    filters: { type: 'int', low: 32, high: 256, log: true },
    dropout: { type: 'float', low: 0, high: 0.5 },
  },
  gru: {
    lr: { type: 'float', low: 5e-4, high: 1e-2, log: true },
    hidden: { type: 'int', low: 32, high: 256, log: true },
  },
});

export function resolveCandidateSpec(
  partial: Partial<CandidateSpec> & { arch: Architecture },
): CandidateSpec {
  if (!isArchitecture(partial.arch)) throw new RangeError(`unknown architecture '${String(partial.arch)}'`);
  const spec: CandidateSpec = {
    ...DEFAULT_CANDIDATE,
    epochs: DEFAULT_EPOCHS[partial.arch],
    refit: DEFAULT_REFIT[partial.arch],
    ...partial,
  };
  if (typeof spec.refit !== 'boolean') throw new RangeError('refit must be true or false');
  if (!Number.isInteger(spec.epochs) || spec.epochs < 1)
    throw new RangeError('epochs must be a positive integer');
  if (!Number.isSafeInteger(spec.seed)) throw new RangeError('seed must be an integer');
  for (const [name, value] of [
    ['testFraction', spec.testFraction],
    ['validationFraction', spec.validationFraction],
  ] as const) {
    if (!(value > 0 && value < 0.5)) throw new RangeError(`${name} must be in (0, 0.5), got ${value}`);
  }
  if (!(spec.targetPrecision > 0 && spec.targetPrecision < 1))
    throw new RangeError('targetPrecision in (0, 1)');
  return spec;
}

/** The encoder a candidate trains with. */
export function candidateEncoder(spec: CandidateSpec): TextEncoderConfig {
  const buckets = spec.arch === 'linear' ? 1 << 14 : DEFAULT_ENCODER_CONFIG.buckets;
  return resolveEncoderConfig({ buckets, ...spec.encoder });
}

/** Defaults merged with the spec's overrides: what the manifest records. */
export function effectiveHyperParameters(spec: CandidateSpec): HyperParameters {
  return { ...ARCH_DEFAULTS[spec.arch], ...spec.hyperParameters };
}

/**
 * The model package format: one folder (local) or blob prefix (`models/<modelVersion>/`) holding an ONNX graph,
 * any side files, and `manifest.json`, which names everything serving needs to rebuild the exact inference path
 * (encoder, labels, calibration, thresholds) and everything an auditor needs to trace the model back to its data
 * and code. Every file of the package is listed with its sha256, and the package hash (the sha256 of the manifest
 * bytes) therefore pins the whole package: it is what an audit record cites.
 *
 * Training writes this format with `buildModelPackage`; serving reads it with `readModelPackage`.
 */
import type { LabelLevel } from '../hs/labels';
import type { EncoderDescriptor } from '../text/encoder';

/** Bumped on any change that an older reader would misread. */
export const MODEL_PACKAGE_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

/** How the encoder's output is laid out for the graph: a flat bag [batch, features] or a token grid. */
export type InputLayout = 'bag' | 'token_grid';

export interface ManifestArchitecture {
  /** 'linear', 'bag', 'dnn', 'textcnn', 'gru', ... */
  readonly kind: string;
  /** The architecture's own serialisable config (dimensions, layers). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly inputLayout: InputLayout;
}

export interface ManifestOnnx {
  /** File name of the graph inside the package. */
  readonly file: string;
  /** Input tensor name (int64 ids). */
  readonly input: string;
  /** Output tensor of raw logits; serving applies its own temperature-calibrated softmax. */
  readonly logits: string;
  /** Bag layout: feature ids kept per text (the tail is cut), as in training. */
  readonly maxFeatures: number;
  /** Token-grid layout: feature ids kept per token. */
  readonly perToken?: number;
}

export interface ManifestLabels {
  /** Digits of every label (6 = HS subheading). */
  readonly level: LabelLevel;
  /** Class codes in logit order. */
  readonly codes: readonly string[];
}

export interface ManifestThresholds {
  /** Calibrated top-1 confidence at or above which a prediction is decided automatically. */
  readonly auto: number;
  /** Precision that `auto` reached on the validation split (chosen for at least `targetPrecision`). */
  readonly autoPrecision: number;
  /** Heading confidence (sum over the heading's subheadings) that counts as a sure heading. */
  readonly heading: number;
  readonly headingPrecision: number;
  /** The precision target the thresholds were chosen for, e.g. 0.98. */
  readonly targetPrecision: number;
}

export interface ManifestDataset {
  readonly version: string;
  /** sha256 of the dataset's content, as the ingestion recorded it. */
  readonly contentHash: string;
}

export interface ManifestFileEntry {
  readonly sha256: string;
  readonly bytes: number;
}

export interface ModelManifest {
  readonly formatVersion: typeof MODEL_PACKAGE_FORMAT_VERSION;
  readonly modelVersion: string;
  /** ISO-8601 time the package was built. */
  readonly createdAt: string;
  readonly arch: ManifestArchitecture;
  readonly onnx: ManifestOnnx;
  readonly encoder: EncoderDescriptor;
  readonly labels: ManifestLabels;
  /** Logits are divided by this before the softmax (fitted on validation). */
  readonly temperature: number;
  readonly thresholds: ManifestThresholds;
  /** Validation / test metrics by name (accuracy@1, coverage@98, ...). */
  readonly metrics: Readonly<Record<string, number>>;
  readonly dataset: ManifestDataset;
  /**
   * The labelled data the test metrics were measured on when it is not a held-out part of `dataset` (a separate
   * file, `npm run train -- --test FILE`); absent when the test part was split off `dataset`.
   */
  readonly testDataset?: ManifestDataset;
  readonly hyperParameters: Readonly<Record<string, unknown>>;
  readonly seed: number;
  /** Version (or commit) of the code that trained the model. */
  readonly codeVersion: string;
  /** Every other file of the package, by name, with its sha256 and size. */
  readonly files: Readonly<Record<string, ManifestFileEntry>>;
}

/** Thrown with every problem found in a package, one per line. */
export class ModelPackageError extends Error {
  constructor(
    readonly location: string,
    readonly problems: readonly string[],
  ) {
    super(`model package ${location} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ModelPackageError';
  }
}

const MODEL_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates a parsed manifest and returns it typed. Every problem is collected, so one failed load tells the
 * model owner everything that is wrong with the package.
 */
export function parseManifest(value: unknown, location: string): ModelManifest {
  const problems: string[] = [];
  if (!isObject(value)) throw new ModelPackageError(location, ['manifest is not a JSON object']);
  const field = <T>(name: string, check: (v: unknown) => v is T, expected: string, from: Json = value): T => {
    const v = from[name];
    if (!check(v)) problems.push(`${name}: expected ${expected}, got ${JSON.stringify(v) ?? 'nothing'}`);
    return v as T;
  };
  const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const isProbability = (v: unknown): v is number => isNumber(v) && v >= 0 && v <= 1;
  const isPositive = (v: unknown): v is number => isNumber(v) && v > 0;
  const isPositiveInteger = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

  if (value.formatVersion !== MODEL_PACKAGE_FORMAT_VERSION) {
    problems.push(
      `formatVersion: this build reads format ${MODEL_PACKAGE_FORMAT_VERSION}, got ${JSON.stringify(value.formatVersion)}`,
    );
  }
  const modelVersion = field('modelVersion', isString, 'a non-empty string');
  if (typeof modelVersion === 'string' && !MODEL_VERSION_PATTERN.test(modelVersion)) {
    problems.push(
      `modelVersion: '${modelVersion}' must be 1-128 of A-Z a-z 0-9 . _ - (it names a blob prefix)`,
    );
  }
  field('createdAt', isString, 'an ISO-8601 time');
  const arch = field('arch', isObject, 'an object');
  if (isObject(arch)) {
    field('kind', isString, 'a string', arch);
    field('config', isObject, 'an object', arch);
    field(
      'inputLayout',
      (v): v is InputLayout => v === 'bag' || v === 'token_grid',
      "'bag' or 'token_grid'",
      arch,
    );
  }
  const onnx = field('onnx', isObject, 'an object');
  if (isObject(onnx)) {
    field('file', isString, 'a file name', onnx);
    field('input', isString, 'a tensor name', onnx);
    field('logits', isString, 'a tensor name', onnx);
    field('maxFeatures', isPositiveInteger, 'a positive integer', onnx);
    if (onnx.perToken !== undefined) field('perToken', isPositiveInteger, 'a positive integer', onnx);
    if (isObject(arch) && arch.inputLayout === 'token_grid' && onnx.perToken === undefined) {
      problems.push('onnx.perToken: required for the token_grid layout');
    }
  }
  const encoder = field('encoder', isObject, 'an encoder descriptor');
  if (isObject(encoder)) {
    field('version', isString, 'an encoder version', encoder);
    field('config', isObject, 'an encoder config', encoder);
  }
  const labels = field('labels', isObject, 'an object');
  if (isObject(labels)) {
    field(
      'level',
      (v): v is LabelLevel => v === 4 || v === 6 || v === 8 || v === 10,
      '4, 6, 8 or 10',
      labels,
    );
    const codes = field(
      'codes',
      (v): v is string[] => Array.isArray(v) && v.length >= 2 && v.every((c) => typeof c === 'string'),
      'at least two code strings',
      labels,
    );
    if (Array.isArray(codes)) {
      if (new Set(codes).size !== codes.length) problems.push('labels.codes: contains duplicates');
      const bad = codes.filter((c) => !/^\d+$/.test(c) || c.length !== labels.level);
      if (bad.length > 0) {
        problems.push(
          `labels.codes: ${bad.length} code(s) are not ${String(labels.level)} digits, e.g. '${bad[0]}'`,
        );
      }
    }
  }
  field('temperature', isPositive, 'a positive number');
  const thresholds = field('thresholds', isObject, 'an object');
  if (isObject(thresholds)) {
    for (const name of ['auto', 'autoPrecision', 'heading', 'headingPrecision', 'targetPrecision']) {
      field(name, isProbability, 'a number in [0, 1]', thresholds);
    }
  }
  const metrics = field('metrics', isObject, 'an object');
  if (isObject(metrics)) {
    for (const [name, metric] of Object.entries(metrics)) {
      if (!isNumber(metric)) problems.push(`metrics.${name}: expected a finite number`);
    }
  }
  const dataset = field('dataset', isObject, 'an object');
  if (isObject(dataset)) {
    field('version', isString, 'a dataset version', dataset);
    field('contentHash', isString, 'a content hash', dataset);
  }
  if (value.testDataset !== undefined) {
    const testDataset = field('testDataset', isObject, 'an object');
    if (isObject(testDataset)) {
      field('version', isString, 'a dataset version', testDataset);
      field('contentHash', isString, 'a content hash', testDataset);
    }
  }
  field('hyperParameters', isObject, 'an object');
  field('seed', Number.isSafeInteger as (v: unknown) => v is number, 'an integer');
  field('codeVersion', isString, 'a string');
  const files = field('files', isObject, 'an object');
  if (isObject(files)) {
    for (const [name, entry] of Object.entries(files)) {
      if (!FILE_NAME_PATTERN.test(name) || name === MANIFEST_FILE) {
        problems.push(`files: '${name}' is not a plain file name of the package`);
      }
      if (!isObject(entry) || typeof entry.sha256 !== 'string' || !SHA256_PATTERN.test(entry.sha256)) {
        problems.push(`files.${name}.sha256: expected 64 lower-case hex digits`);
      }
      if (!isObject(entry) || !Number.isSafeInteger(entry.bytes) || (entry.bytes as number) < 0) {
        problems.push(`files.${name}.bytes: expected a byte count`);
      }
    }
    if (isObject(onnx) && typeof onnx.file === 'string' && !(onnx.file in files)) {
      problems.push(`onnx.file: '${onnx.file}' is not listed in files`);
    }
  }
  if (problems.length > 0) throw new ModelPackageError(location, problems);
  return value as unknown as ModelManifest;
}

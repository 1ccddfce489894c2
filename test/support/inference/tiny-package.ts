/**
 * A tiny but real model package for serving tests: a linear model over the project's encoder, fitted in a few
 * milliseconds by softmax SGD on generated descriptions, exported with the project's ONNX exporter and packaged
 * with `buildModelPackage`. Two T-shirt subheadings share most of their words, so the model is sure of heading
 * 6109 while unsure between 6109.10 and 6109.90: the "heading is sure" path has a real case.
 */
import { createRandom } from '../../../shared/math/random';
import { buildModelPackage, type ManifestDraft } from '../../../shared/model-package/package';
import {
  describeEncoder,
  encodeBag,
  resolveEncoderConfig,
  type TextEncoderConfig,
} from '../../../shared/text/encoder';
import { LinearModel } from '../../../training/models';
import { exportBagModel, INPUT_NAME, LOGITS_NAME } from '../../../training/onnx/export';

/** Words that mark each class; the first is the class's own word. */
const CLASS_WORDS: Record<string, readonly string[]> = {
  '610910': ['cotton', 'tshirt', 'tee', 'knitted'],
  '610990': ['polyester', 'tshirt', 'tee', 'knitted'],
  '620342': ['trousers', 'denim', 'jeans', 'cotton'],
  '847130': ['laptop', 'notebook', 'portable', 'computer'],
  '847141': ['desktop', 'workstation', 'computer', 'tower'],
  '090111': ['coffee', 'beans', 'arabica', 'green'],
  '090121': ['roasted', 'coffee', 'ground', 'espresso'],
  '851713': ['smartphone', 'phone', 'android', 'mobile'],
};
const FILLER = ['new', 'pcs', 'box', 'black', 'size', 'pack', 'model'];

export const TINY_CODES = Object.keys(CLASS_WORDS).sort();

export interface TinyPackageOptions {
  readonly modelVersion?: string;
  readonly seed?: number;
  /** Auto-decision threshold written to the manifest. Default 0.9. */
  readonly autoThreshold?: number;
  readonly temperature?: number;
  /** SGD epochs; fewer make a weaker model (0: the untrained initial weights). Default 15. */
  readonly epochs?: number;
}

export interface TinyPackage {
  readonly files: Map<string, Uint8Array>;
  readonly packageHash: string;
  readonly encoder: TextEncoderConfig;
  readonly codes: readonly string[];
}

function generateExamples(seed: number): { text: string; label: number }[] {
  const rng = createRandom(seed);
  const examples: { text: string; label: number }[] = [];
  TINY_CODES.forEach((code, label) => {
    const words = CLASS_WORDS[code]!;
    for (let i = 0; i < 60; i++) {
      const picked = [words[0]!, words[1 + rng.int(words.length - 1)]!];
      if (rng.next() < 0.5) picked.push(FILLER[rng.int(FILLER.length)]!);
      if (rng.next() < 0.3) picked.push(String(1 + rng.int(500)));
      examples.push({ text: picked.join(' '), label });
    }
  });
  return examples;
}

/** Builds the package in memory (about 50 ms). */
export function buildTinyPackage(options: TinyPackageOptions = {}): TinyPackage {
  const encoder = resolveEncoderConfig({ buckets: 4095 });
  const classes = TINY_CODES.length;
  const model = new LinearModel({ kind: 'linear', rows: encoder.buckets + 1, classes });
  const examples = generateExamples(options.seed ?? 7);
  const bags = examples.map((e) => encodeBag(e.text, encoder));
  const w = model.weight.value;
  const b = model.bias.value;
  const rng = createRandom(options.seed ?? 7);
  const logits = new Float64Array(classes);
  const epochs = options.epochs ?? 15;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let n = 0; n < examples.length; n++) {
      const index = rng.int(examples.length);
      const bag = bags[index]!;
      const scale = 1 / Math.sqrt(Math.max(1, bag.length));
      for (let c = 0; c < classes; c++) {
        let z = b[c]!;
        for (const id of bag) z += w[id * classes + c]! * scale;
        logits[c] = z;
      }
      const max = Math.max(...logits);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(logits[c]! - max);
      for (let c = 0; c < classes; c++) {
        const p = Math.exp(logits[c]! - max) / sum;
        const gradient = p - (c === examples[index]!.label ? 1 : 0);
        const step = 0.5 * gradient;
        b[c] = b[c]! - step * 0.1;
        for (const id of bag) w[id * classes + c] = w[id * classes + c]! - step * scale;
      }
    }
  }
  const descriptor = describeEncoder(encoder);
  const onnxBytes = exportBagModel(model, { encoder: descriptor, classNames: TINY_CODES });
  const modelVersion = options.modelVersion ?? 'tiny-1';
  const draft: ManifestDraft = {
    modelVersion,
    createdAt: '2026-01-01T00:00:00.000Z',
    arch: { kind: 'linear', config: { ...model.config }, inputLayout: 'bag' },
    onnx: { file: 'model.onnx', input: INPUT_NAME, logits: LOGITS_NAME, maxFeatures: 512 },
    encoder: descriptor,
    labels: { level: 6, codes: TINY_CODES },
    temperature: options.temperature ?? 1,
    thresholds: {
      auto: options.autoThreshold ?? 0.9,
      autoPrecision: 0.985,
      heading: 0.9,
      headingPrecision: 0.99,
      targetPrecision: 0.98,
    },
    metrics: { accuracyAt1: 0.97 },
    dataset: { version: 'generated-1', contentHash: 'sha256:generated' },
    hyperParameters: { epochs, learningRate: 0.5 },
    seed: options.seed ?? 7,
    codeVersion: 'test',
  };
  const built = buildModelPackage(draft, new Map([['model.onnx', onnxBytes]]));
  return { files: built.files, packageHash: built.packageHash, encoder, codes: TINY_CODES };
}

/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import { encodeTokenLists } from '../../../../shared/inference/features';
import { loadServingModel } from '../../../../shared/inference/model';
import { memoryPackageFiles, readModelPackage } from '../../../../shared/model-package';
import {
  buildVocabulary,
  encodeBag,
  encoderFromDescriptor,
  packBags,
  tokenize,
} from '../../../../shared/text/encoder';
import { parseLabelledCsv } from '../../../../training/data/labelled-csv';
import {
  refitCheckpointPath,
  splitForPipeline,
  trainCandidate,
  type CandidateData,
} from '../../../../training/pipeline/candidate';
import { ARCH_DEFAULTS, candidateEncoder, resolveCandidateSpec } from '../../../../training/pipeline/spec';
import { generateRows, rowsToCsv } from './generated-rows';

const nomenclature = loadNomenclature();
const dataset = { version: 'ds-test', contentHash: 'a'.repeat(64) };
// Small hash tables keep each training to a second or two; the defaults are sized for real data.
const SMALL = { buckets: 4096 };
let data: CandidateData;
let folder: string;

beforeAll(async () => {
  data = await parseLabelledCsv(rowsToCsv(generateRows(1200, 5)), nomenclature);
  folder = mkdtempSync(join(tmpdir(), 'candidate-'));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const options = (modelVersion: string, checkpointPath: string | null = null) => ({
  dataset,
  modelVersion,
  checkpointPath,
  createdAt: '2026-01-01T00:00:00.000Z',
  codeVersion: 'test',
  nomenclature,
});

describe('splitForPipeline', () => {
  it('partitions the rows into three disjoint stratified parts, the same for the same seed', () => {
    const spec = resolveCandidateSpec({ arch: 'bag' });
    const a = splitForPipeline(data, spec);
    const b = splitForPipeline(data, spec);
    expect(Array.from(a.test)).toEqual(Array.from(b.test));
    const all = [...a.train, ...a.validation, ...a.test].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: data.texts.length }, (_, i) => i));
    expect(a.test.length / data.texts.length).toBeGreaterThan(0.1);
    expect(a.validation.length / data.texts.length).toBeGreaterThan(0.1);
    const c = splitForPipeline(data, { ...spec, splitSeed: 9 });
    expect(Array.from(c.test)).not.toEqual(Array.from(a.test));
  });
});

describe('trainCandidate', () => {
  it.each(['bag', 'textcnn', 'svm'] as const)(
    'packages a %s model that passes ONNX parity, learns the data, and is reproducible',
    async (arch) => {
      const spec = resolveCandidateSpec({ arch, epochs: 3, seed: 4, encoder: SMALL });
      const stages: string[] = [];
      const epochs: number[] = [];
      const first = await trainCandidate(data, spec, options(`${arch}-a`), {
        onStage: (s) => stages.push(s),
        onEpoch: (p) => epochs.push(p.epoch),
      });
      // The bag and the svm refit on training + validation by default (DEFAULT_REFIT); the Text-CNN does not.
      expect(stages).toEqual([
        'encoding',
        'training',
        ...(arch === 'textcnn' ? [] : ['refitting']),
        'evaluating',
        'exporting',
        'packaging',
        'parity',
      ]);
      expect(epochs.length).toBeGreaterThan(0);
      expect(first.parityMaxDifference).toBeLessThan(1e-4);
      expect(first.evaluation.test.accuracyAt1).toBeGreaterThan(0.6);
      const pkg = await readModelPackage(memoryPackageFiles('mem', first.files));
      expect(pkg.packageHash).toBe(first.packageHash);
      expect(pkg.manifest.labels.codes).toEqual(data.labelSet);
      expect(pkg.manifest.dataset).toEqual(dataset);
      expect(pkg.manifest.seed).toBe(4);
      expect(pkg.manifest.thresholds.targetPrecision).toBe(0.98);
      expect(pkg.manifest.metrics['test.accuracyAt1']).toBe(first.evaluation.test.accuracyAt1);
      expect(first.testCorrect.length).toBe(first.split.test);

      // Another pipeline (another model version) on the same data and spec builds the same graph bytes.
      const again = await trainCandidate(data, spec, options(`${arch}-b`));
      expect(again.modelHash).toBe(first.modelHash);
      expect(again.packageHash).not.toBe(first.packageHash);
      const otherSeed = await trainCandidate(data, { ...spec, seed: 5 }, options(`${arch}-a`));
      expect(otherSeed.modelHash).not.toBe(first.modelHash);
    },
    120_000,
  );

  it('resumes from its checkpoint and reaches the same weights as an uninterrupted run', async () => {
    const spec = resolveCandidateSpec({ arch: 'bag', epochs: 3, seed: 2, encoder: SMALL, refit: false });
    const uninterrupted = await trainCandidate(data, spec, options('bag-r'));
    const checkpoint = join(folder, 'resume.ckpt');
    // One epoch, then "the activity dies": the checkpoint on disk is what a restart finds.
    await trainCandidate(data, { ...spec, epochs: 1 }, options('bag-r', checkpoint)).catch(() => undefined);
    const resumedEpochs: number[] = [];
    const resumed = await trainCandidate(data, spec, options('bag-r', checkpoint), {
      onEpoch: (p) => resumedEpochs.push(p.epoch),
    });
    expect(resumedEpochs[0]).toBe(2);
    expect(resumed.modelHash).toBe(uninterrupted.modelHash);
  }, 120_000);

  it('learns a vocabulary and idf weights by default for bag, and serving encodes exactly as training did', async () => {
    expect(ARCH_DEFAULTS.bag).toMatchObject({ featureWeighting: 'idf' });
    expect(ARCH_DEFAULTS.bag.minCount).toBeGreaterThan(0);
    const spec = resolveCandidateSpec({ arch: 'bag', epochs: 2, seed: 3 });
    const result = await trainCandidate(data, spec, options('bag-v'));
    expect(result.parityMaxDifference).toBeLessThan(1e-4);
    const pkg = await readModelPackage(memoryPackageFiles('mem', result.files));
    const trained = encoderFromDescriptor(pkg.manifest.encoder);
    const vocabulary = trained.vocabulary!;
    expect(vocabulary.length).toBe(trained.buckets);
    expect(result.manifest.arch.config).toMatchObject({
      featureWeighting: 'idf',
      rows: vocabulary.length + 1,
    });
    // Learned from the rows the shipped model trained on (the refit's training + validation), never from test.
    const split = splitForPipeline(data, spec);
    const fromTraining = buildVocabulary(
      Array.from([...split.train, ...split.validation], (i) => data.texts[i]!),
      candidateEncoder(spec),
      Number(ARCH_DEFAULTS.bag.minCount),
    );
    expect(vocabulary).toEqual(fromTraining.vocabulary);

    const serving = await loadServingModel(pkg, nomenclature);
    try {
      const texts = [
        ...Array.from(split.test.subarray(0, 50), (i) => data.texts[i]!),
        'zzqx unseen words only',
      ];
      const served = encodeTokenLists(
        texts.map((text) => tokenize(text, serving.encoder)),
        serving.encoder,
        { layout: 'bag', maxFeatures: pkg.manifest.onnx.maxFeatures, perToken: 1 },
      );
      const expected = packBags(
        texts.map((text) => encodeBag(text, trained)),
        pkg.manifest.onnx.maxFeatures,
      );
      expect(served.dims).toEqual([expected.size, expected.width]);
      expect(Array.from(served.ids, Number)).toEqual(Array.from(expected.ids));
      // Ids are vocabulary positions, not hash buckets.
      expect(Math.max(...Array.from(expected.ids))).toBeLessThanOrEqual(vocabulary.length);
    } finally {
      await serving.release();
    }
  }, 120_000);

  it('refits on training + validation for the epochs early stopping chose, keeps the validated calibration, and resumes a refit', async () => {
    const spec = resolveCandidateSpec({ arch: 'bag', epochs: 3, seed: 6, encoder: SMALL });
    expect(spec.refit).toBe(true);
    let stage = '';
    const refitEpochs: number[] = [];
    const refitted = await trainCandidate(data, spec, options('bag-f'), {
      onStage: (s) => (stage = s),
      onEpoch: (p) => {
        if (stage === 'refitting') refitEpochs.push(p.epoch);
      },
    });
    const split = splitForPipeline(data, spec);
    // More than one refit epoch, so the resume below starts mid-way.
    expect(refitted.bestEpoch).toBeGreaterThan(1);
    expect(refitEpochs).toEqual(Array.from({ length: refitted.bestEpoch }, (_, i) => i + 1));
    expect(refitted.manifest.metrics['train.refitRows']).toBe(split.train.length + split.validation.length);
    expect(refitted.manifest.hyperParameters.refit).toBe(true);
    expect(refitted.parityMaxDifference).toBeLessThan(1e-4);

    // Without the refit: other weights, but the same validated temperature and thresholds.
    const validated = await trainCandidate(data, { ...spec, refit: false }, options('bag-f'));
    expect(validated.modelHash).not.toBe(refitted.modelHash);
    expect(refitted.manifest.temperature).toBe(validated.manifest.temperature);
    expect(refitted.manifest.thresholds).toEqual(validated.manifest.thresholds);
    expect(refitted.evaluation.validation.accuracyAt1).toBe(validated.evaluation.validation.accuracyAt1);

    // The activity dies right after the refit's first checkpoint; a restart resumes the refit, same weights.
    const checkpoint = join(folder, 'refit.ckpt');
    stage = '';
    await expect(
      trainCandidate(data, spec, options('bag-f', checkpoint), {
        onStage: (s) => (stage = s),
        onEpoch: () => {
          if (stage === 'refitting') throw new Error('activity died');
        },
      }),
    ).rejects.toThrow('activity died');
    expect(existsSync(refitCheckpointPath(checkpoint))).toBe(true);
    stage = '';
    const resumedRefitEpochs: number[] = [];
    const resumed = await trainCandidate(data, spec, options('bag-f', checkpoint), {
      onStage: (s) => (stage = s),
      onEpoch: (p) => {
        if (stage === 'refitting') resumedRefitEpochs.push(p.epoch);
      },
    });
    expect(resumedRefitEpochs).toEqual(Array.from({ length: refitted.bestEpoch - 1 }, (_, i) => i + 2));
    expect(resumed.modelHash).toBe(refitted.modelHash);
  }, 120_000);

  it('trains the svm class by class, resuming its checkpoint in either phase with the same weights', async () => {
    const spec = resolveCandidateSpec({ arch: 'svm', seed: 3 });
    const progress: string[] = [];
    let stage = '';
    const uninterrupted = await trainCandidate(data, spec, options('svm-r'), {
      onStage: (s) => (stage = s),
      onEpoch: (p) => progress.push(`${stage}:${p.epoch}/${p.epochs}`),
    });
    // Tenths of the classes solved, in each phase; validation accuracy once the first phase is done.
    expect(progress.filter((p) => p.startsWith('training:'))).toHaveLength(10);
    expect(progress.filter((p) => p.startsWith('refitting:'))).toHaveLength(10);
    expect(uninterrupted.history.at(-1)!.validationAccuracy).toBe(
      uninterrupted.evaluation.validation.accuracyAt1,
    );
    expect(uninterrupted.parityMaxDifference).toBeLessThan(1e-4);
    expect(uninterrupted.evaluation.test.accuracyAt1).toBeGreaterThan(0.6);
    // Words and character n-grams have their own vocabulary cut-offs.
    expect(uninterrupted.manifest.hyperParameters).toMatchObject({ minCount: 2, wordMinCount: 1 });

    for (const [phase, at] of [
      ['training', 4],
      ['refitting', 7],
    ] as const) {
      const checkpoint = join(folder, `svm-${phase}.ckpt`);
      stage = '';
      await expect(
        trainCandidate(data, spec, options('svm-r', checkpoint), {
          onStage: (s) => (stage = s),
          onEpoch: (p) => {
            if (stage === phase && p.epoch === at) throw new Error('activity died');
          },
        }),
      ).rejects.toThrow('activity died');
      stage = '';
      const resumedFrom: number[] = [];
      const resumed = await trainCandidate(data, spec, options('svm-r', checkpoint), {
        onStage: (s) => (stage = s),
        onEpoch: (p) => {
          if (stage === phase) resumedFrom.push(p.epoch);
        },
      });
      expect(resumedFrom[0]).toBe(at + 1);
      expect(resumed.modelHash).toBe(uninterrupted.modelHash);
    }
  }, 120_000);

  it('tests on a separate test set: trains on every data row, counts codes the data lacks as errors', async () => {
    const spec = resolveCandidateSpec({ arch: 'bag', epochs: 2, seed: 8, encoder: SMALL });
    // Other generated lines, plus two of a code the training data does not have.
    const testCsv =
      rowsToCsv(generateRows(200, 77)) +
      '\nwooden pallets for transport,441520\nwooden pallets used,441520\n';
    const test = await parseLabelledCsv(testCsv, nomenclature, {
      labelSet: data.labelSet,
      unseenLabels: 'append',
    });
    expect(test.labelSet.slice(data.labelSet.length)).toEqual(['441520']);
    const identity = { version: 'test-file', contentHash: 'b'.repeat(64) };
    const separate = await trainCandidate(data, spec, {
      ...options('bag-x'),
      testSet: { ...test, identity },
    });
    expect(separate.split.train + separate.split.validation).toBe(data.texts.length);
    expect(separate.split.test).toBe(test.texts.length);
    expect(separate.manifest.metrics['train.refitRows']).toBe(data.texts.length);
    expect(separate.manifest.testDataset).toEqual(identity);
    expect(separate.manifest.hyperParameters).not.toHaveProperty('testFraction');
    // The model's classes are the data's; the unseen code's rows are scored, and wrong.
    expect(separate.manifest.labels.codes).toEqual(data.labelSet);
    expect(separate.testCorrect.length).toBe(test.texts.length);
    expect(Array.from(separate.testCorrect.subarray(-2))).toEqual([0, 0]);
    const correct = separate.testCorrect.reduce((sum, c) => sum + c, 0);
    expect(separate.evaluation.test.accuracyAt1).toBeCloseTo(correct / test.texts.length, 12);
    expect(separate.evaluation.test.accuracyAt1).toBeGreaterThan(0.6);
    expect(separate.parityMaxDifference).toBeLessThan(1e-4);
    // With a test part split off the data, fewer rows are trained or validated on.
    const heldOut = await trainCandidate(data, spec, options('bag-x'));
    expect(heldOut.manifest.testDataset).toBeUndefined();
    expect(heldOut.split.train + heldOut.split.validation).toBeLessThan(data.texts.length);

    await expect(
      trainCandidate(data, spec, {
        ...options('bag-x'),
        testSet: { ...test, labelSet: [...test.labelSet].reverse(), identity },
      }),
    ).rejects.toThrow(/label set must start with the training data's/);
  }, 120_000);

  it('refuses to resume a checkpoint written with another vocabulary', async () => {
    const spec = resolveCandidateSpec({ arch: 'bag', epochs: 2, seed: 2 });
    const checkpoint = join(folder, 'vocabulary.ckpt');
    await trainCandidate(data, { ...spec, epochs: 1 }, options('bag-t', checkpoint));
    // Same vocabulary and parameter shapes, other pooling weights: only the checkpoint's tag can tell.
    const other = { ...spec, hyperParameters: { featureWeighting: 'none' } };
    await expect(trainCandidate(data, other, options('bag-t', checkpoint))).rejects.toThrow(
      /written for features:/,
    );
  }, 120_000);
});

/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createRandom } from '../../../../shared/math/random';
import { describeEncoder, packBags, resolveEncoderConfig } from '../../../../shared/text/encoder';
import { softmaxRows } from '../../../../training/nn/kernels';
import { accuracyAt1 } from '../../../../training/trainer';
import {
  DEFAULT_SVM,
  LinearSvmConfig,
  LinearSvmModel,
  SparseExamples,
  solveOneVsRest,
  sparseExamples,
  trainLinearSvm,
} from '../../../../training/models/svm';
import { inverseDocumentFrequencies } from '../../../../training/models/feature-weights';
import { INPUT_NAME, LOGITS_NAME, PROBABILITIES_NAME, idsToInt64 } from '../../../../training/onnx/export';
import { exportLinearSvm } from '../../../../training/onnx/svm';

const ROWS = 300;
const CLASSES = 12;

/** Texts of a class share a few "topic" features of that class plus random noise features. */
function generated(count: number, seed: number): { bags: Int32Array[]; labels: Int32Array } {
  const rng = createRandom(seed);
  const labels = Int32Array.from({ length: count }, () => rng.int(CLASSES));
  const bags = Array.from(labels, (label) => {
    const ids = new Set<number>();
    for (let k = 0; k < 3; k++) ids.add(1 + label * 20 + rng.int(8));
    for (let k = 0; k < 4; k++) ids.add(1 + rng.int(ROWS - 1));
    return Int32Array.from(ids);
  });
  return { bags, labels };
}

function config(overrides: Partial<LinearSvmConfig> = {}): LinearSvmConfig {
  return { ...DEFAULT_SVM, kind: 'svm', rows: ROWS, classes: CLASSES, tolerance: 1e-4, ...overrides };
}

function prepared(count = 400, seed = 5, overrides: Partial<LinearSvmConfig> = {}) {
  const { bags, labels } = generated(count, seed);
  const model = new LinearSvmModel(config(overrides));
  model.setFeatureWeights(inverseDocumentFrequencies(bags, ROWS));
  // Ids above 150 play the character n-grams, normalised apart from the rest.
  model.setFeatureGroups(Uint8Array.from({ length: ROWS }, (_, id) => (id > 150 ? 1 : 0)));
  return {
    model,
    bags,
    labels,
    data: sparseExamples(bags, labels, model.featureWeights, model.featureGroups),
  };
}

/** y_i (w·x_i + b) for class `positive`, with w dense. */
function margins(data: SparseExamples, positive: number, w: Float64Array, bias: number): number[] {
  return Array.from(data.labels, (label, i) => {
    let dot = bias;
    for (let k = data.rowStart[i]!; k < data.rowStart[i + 1]!; k++)
      dot += w[data.cols[k]!]! * data.values[k]!;
    return (label === positive ? 1 : -1) * dot;
  });
}

describe('sparseExamples', () => {
  it('makes L2-normalised tf-idf rows, each feature group on its own, and drops padding', () => {
    const weights = Float32Array.of(0, 1, 2, 2, 3);
    const oneGroup = new Uint8Array(5);
    const data = sparseExamples(
      [Int32Array.of(1, 2, 0), Int32Array.of(3)],
      Int32Array.of(0, 1),
      weights,
      oneGroup,
    );
    expect(Array.from(data.rowStart)).toEqual([0, 2, 3]);
    expect(Array.from(data.cols)).toEqual([1, 2, 3]);
    expect(data.values[0]).toBeCloseTo(1 / Math.sqrt(5));
    expect(data.values[1]).toBeCloseTo(2 / Math.sqrt(5));
    expect(data.values[2]).toBeCloseTo(1);
    // Features 3 and 4 in group 1: each group has unit length of its own.
    const grouped = sparseExamples(
      [Int32Array.of(1, 3, 2, 4)],
      Int32Array.of(0),
      weights,
      Uint8Array.of(0, 0, 0, 1, 1),
    );
    expect(Array.from(grouped.values, (v) => Number(v.toFixed(6)))).toEqual(
      [1 / Math.sqrt(5), 2 / Math.sqrt(13), 2 / Math.sqrt(5), 3 / Math.sqrt(13)].map((v) =>
        Number(v.toFixed(6)),
      ),
    );
  });
});

describe('solveOneVsRest', () => {
  it('reaches the optimum of the squared-hinge SVM: primal and dual objectives meet', () => {
    const { model, data } = prepared();
    const c = model.config.c;
    const w = new Float64Array(ROWS);
    const { bias } = solveOneVsRest(data, 3, model.config, 9, w);
    // Primal: ½(|w|² + b²) + C Σ max(0, 1 - y(w·x + b))².
    let norm = bias * bias;
    for (const v of w) norm += v * v;
    const slacks = margins(data, 3, w, bias).map((m) => Math.max(0, 1 - m));
    const primal = 0.5 * norm + c * slacks.reduce((sum, xi) => sum + xi * xi, 0);
    // At the dual optimum α_i = 2C ξ_i, so the dual objective is Σα - ½|w|² - Σ α²/(4C) with these α.
    const alphas = slacks.map((xi) => 2 * c * xi);
    const dual =
      alphas.reduce((a, b) => a + b, 0) - 0.5 * norm - alphas.reduce((a, b) => a + b * b, 0) / (4 * c);
    expect(primal).toBeGreaterThan(0);
    expect((primal - dual) / primal).toBeLessThan(1e-3);
  });

  it('separates a class from the rest on its training examples', () => {
    const { model, data } = prepared();
    const w = new Float64Array(ROWS);
    const { bias } = solveOneVsRest(data, 0, model.config, 1, w);
    const m = margins(data, 0, w, bias);
    expect(m.filter((v) => v > 0).length / m.length).toBeGreaterThan(0.97);
  });
});

describe('trainLinearSvm', () => {
  it('learns the generated classes and scores held-out texts through the sparse forward pass', async () => {
    const { model, data } = prepared(600, 5);
    await trainLinearSvm(model, data, { seed: 1, checkpointPath: null, checkpointTag: 't' });
    const test = generated(300, 77);
    const logits = model.forward(packBags(test.bags), null);
    expect(accuracyAt1(logits, test.labels, CLASSES)).toBeGreaterThan(0.9);
    // Only features of support vectors carry weight: far fewer entries than the dense table.
    expect(model.entries).toBeGreaterThan(0);
    expect(model.entries).toBeLessThan(ROWS * CLASSES);
  });

  it('is deterministic, and a run resumed from its checkpoint reaches the same weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'svm-'));
    /** A fresh model solved in 4 chunks (seed 4); the chunks it reported; "killed" after chunk `dieAfter`. */
    const run = async (checkpointPath: string | null, checkpointTag = 't', dieAfter?: number) => {
      const { model, data } = prepared();
      const chunks: number[] = [];
      await trainLinearSvm(model, data, {
        seed: 4,
        checkpointPath,
        checkpointTag,
        chunks: 4,
        onProgress: (p) => {
          chunks.push(p.chunk);
          if (p.chunk === dieAfter) throw new Error('killed');
        },
      });
      return { model, chunks };
    };
    try {
      const first = await run(null);
      expect(first.chunks).toEqual([1, 2, 3, 4]);

      // A run that dies after its second chunk, then a restart on the same checkpoint.
      const path = join(dir, 'checkpoint');
      await expect(run(path, 't', 2)).rejects.toThrow('killed');
      const resumed = await run(path);
      expect(resumed.chunks).toEqual([3, 4]);
      expect(resumed.model.weights).toEqual(first.model.weights);

      // Another tag (other data or settings) starts over instead of resuming.
      const other = await run(path, 'other');
      expect(other.chunks).toEqual([1, 2, 3, 4]);
      expect(other.model.weights).toEqual(first.model.weights);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same weights solved by worker threads as on this thread', async () => {
    const alone = prepared();
    await trainLinearSvm(alone.model, alone.data, { seed: 2, checkpointPath: null, checkpointTag: 't' });
    const threaded = prepared();
    await trainLinearSvm(threaded.model, threaded.data, {
      seed: 2,
      checkpointPath: null,
      checkpointTag: 't',
      threads: 3,
      chunks: 2,
    });
    expect(threaded.model.weights).toEqual(alone.model.weights);
  });

  it('drops weights below pruneBelow, and keeps the rest unchanged', async () => {
    const full = prepared();
    await trainLinearSvm(full.model, full.data, { seed: 2, checkpointPath: null, checkpointTag: 't' });
    const pruned = prepared(400, 5, { pruneBelow: 0.05 });
    await trainLinearSvm(pruned.model, pruned.data, { seed: 2, checkpointPath: null, checkpointTag: 't' });
    const kept = Array.from(full.model.weights.values).filter((v) => Math.abs(v) >= 0.05);
    expect(pruned.model.entries).toBe(kept.length);
    expect(pruned.model.entries).toBeLessThan(full.model.entries);
    expect(Array.from(pruned.model.weights.values).sort()).toEqual(kept.sort());
    expect(pruned.model.weights.bias).toEqual(full.model.weights.bias);
  });

  it('refuses settings that cannot train', () => {
    expect(() => new LinearSvmModel(config({ c: 0 }))).toThrow(/c must be > 0/);
    expect(() => new LinearSvmModel(config({ classes: 70000 }))).toThrow(/classes/);
    expect(() => new LinearSvmModel(config({ maxIterations: 0 }))).toThrow(/maxIterations/);
    expect(() => new LinearSvmModel(config({ pruneBelow: -1 }))).toThrow(/pruneBelow/);
  });
});

describe('ONNX export of the svm', () => {
  it('agrees with the TypeScript forward pass within 1e-4 on 1,000 inputs, empty bags included', async () => {
    const { model, data } = prepared(600, 5);
    await trainLinearSvm(model, data, { seed: 1, checkpointPath: null, checkpointTag: 't' });
    const encoder = describeEncoder(resolveEncoderConfig({ buckets: ROWS - 1 }));
    const classNames = Array.from({ length: CLASSES }, (_, i) => String(100000 + i));
    const session = await ort.InferenceSession.create(exportLinearSvm(model, { encoder, classNames }));
    try {
      const rng = createRandom(8);
      const bags = Array.from({ length: 1000 }, (_, i) =>
        Int32Array.from({ length: i % 97 === 0 ? 0 : 1 + rng.int(30) }, () => 1 + rng.int(ROWS - 1)),
      );
      let worst = 0;
      for (const size of [1, 249, 750]) {
        const start = size === 1 ? 0 : size === 249 ? 1 : 250;
        const batch = packBags(bags.slice(start, start + size));
        const expectedLogits = model.forward(batch, null).slice();
        const expected = new Float32Array(expectedLogits.length);
        softmaxRows(expectedLogits, batch.size, CLASSES, expected);
        const out = await session.run({
          [INPUT_NAME]: new ort.Tensor('int64', idsToInt64(batch.ids), [batch.size, batch.width]),
        });
        const logits = out[LOGITS_NAME]!.data as Float32Array;
        const probabilities = out[PROBABILITIES_NAME]!.data as Float32Array;
        expect(probabilities.length).toBe(expected.length);
        for (let i = 0; i < expected.length; i++) {
          worst = Math.max(worst, Math.abs(probabilities[i]! - expected[i]!));
          expect(Math.abs(logits[i]! - expectedLogits[i]!)).toBeLessThan(1e-4);
        }
      }
      expect(worst).toBeLessThan(1e-4);
      // A batch of only padding scores the bias alone.
      const empty = await session.run({
        [INPUT_NAME]: new ort.Tensor('int64', new BigInt64Array(6), [2, 3]),
      });
      expect(Array.from((empty[LOGITS_NAME]!.data as Float32Array).slice(0, CLASSES))).toEqual(
        Array.from(model.weights.bias),
      );
    } finally {
      await session.release();
    }
  });
});

/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRandom } from '../../../../shared/math/random';
import { loadCheckpoint, saveCheckpoint } from '../../../../training/nn/checkpoint';
import {
  createOnnxHeadEngine,
  createTypeScriptHeadEngine,
  headLogits,
} from '../../../../training/nn/head-engine';
import {
  RowSet,
  denseBackward,
  denseForward,
  embeddingBagBackward,
  embeddingBagForward,
  softmaxCrossEntropy,
} from '../../../../training/nn/kernels';
import { DEFAULT_ADAM, createOptimizer } from '../../../../training/nn/optimizer';
import { Parameter, clipGradientNorm } from '../../../../training/nn/parameter';
import { learningRateAt } from '../../../../training/nn/schedule';

const rng = createRandom(42);
const randomArray = (n: number, scale = 1) => Float32Array.from({ length: n }, () => rng.normal() * scale);

describe('dense kernels', () => {
  it('match a naive matrix product, including odd sizes and zero inputs', () => {
    const [B, K, N] = [5, 7, 3];
    const x = randomArray(B * K);
    x[3] = 0;
    const w = randomArray(K * N);
    const bias = randomArray(N);
    const y = new Float32Array(B * N);
    denseForward(x, B, K, w, N, bias, y);
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < N; n++) {
        let s = bias[n]!;
        for (let k = 0; k < K; k++) s += x[b * K + k]! * w[k * N + n]!;
        expect(y[b * N + n]).toBeCloseTo(s, 5);
      }
    }
  });

  it('backward agrees with the analytic gradients of sum(y * dy)', () => {
    const [B, K, N] = [6, 5, 9];
    const x = randomArray(B * K);
    const w = randomArray(K * N);
    const dy = randomArray(B * N);
    const dw = new Float32Array(K * N);
    const db = new Float32Array(N);
    const dx = new Float32Array(B * K);
    denseBackward(x, B, K, w, N, dy, dw, db, dx);
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let b = 0; b < B; b++) s += x[b * K + k]! * dy[b * N + n]!;
        expect(dw[k * N + n]).toBeCloseTo(s, 4);
      }
    }
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += dy[b * N + n]! * w[k * N + n]!;
        expect(dx[b * K + k]).toBeCloseTo(s, 4);
      }
    }
    let sumDb = 0;
    for (const v of dy) sumDb += v;
    expect(db.reduce((a, v) => a + v, 0)).toBeCloseTo(sumDb, 4);
  });
});

describe('embedding bag', () => {
  it('skips padding id 0 and records touched rows', () => {
    const dim = 3;
    const table = randomArray(5 * dim);
    const ids = Int32Array.of(1, 3, 0, 2, 2, 0);
    const scale = Float32Array.of(0.5, 1);
    const out = new Float32Array(2 * dim);
    embeddingBagForward(ids, 2, 3, table, dim, scale, out);
    for (let d = 0; d < dim; d++) {
      expect(out[d]).toBeCloseTo(0.5 * (table[dim + d]! + table[3 * dim + d]!), 6);
      expect(out[dim + d]).toBeCloseTo(2 * table[2 * dim + d]!, 6);
    }
    const grad = new Float32Array(table.length);
    const touched = new RowSet(5);
    embeddingBagBackward(ids, 2, 3, dim, scale, Float32Array.of(1, 1, 1, 1, 1, 1), grad, touched);
    expect(Array.from(touched.rowsView()).sort()).toEqual([1, 2, 3]);
    expect(grad[2 * dim]).toBeCloseTo(2, 6);
    expect(grad[0]).toBe(0);
  });
});

describe('softmaxCrossEntropy', () => {
  it('returns probabilities summing to 1 and the finite-difference gradient of the weighted mean loss', () => {
    const [B, C] = [3, 6];
    const logits = randomArray(B * C, 2);
    const labels = Int32Array.of(0, 5, 2);
    const weights = Float32Array.of(1, 2, 0.5);
    const probs = new Float32Array(B * C);
    const dLogits = new Float32Array(B * C);
    softmaxCrossEntropy(logits, B, C, labels, weights, probs, dLogits);
    for (let b = 0; b < B; b++)
      expect(probs.subarray(b * C, (b + 1) * C).reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
    const meanLoss = (l: Float32Array) =>
      softmaxCrossEntropy(l, B, C, labels, weights, new Float32Array(B * C), null) / 3.5;
    const eps = 1e-2;
    for (let i = 0; i < B * C; i++) {
      const plus = logits.slice();
      const minus = logits.slice();
      plus[i] = plus[i]! + eps;
      minus[i] = minus[i]! - eps;
      expect(dLogits[i]).toBeCloseTo((meanLoss(plus) - meanLoss(minus)) / (2 * eps), 3);
    }
  });
});

describe('optimisers, clipping, schedules', () => {
  it('Adam first step moves each weight by lr against the gradient sign; sparse rows stay lazy', () => {
    const dense = new Parameter('d', [2]);
    const sparse = new Parameter('s', [3, 2], true);
    dense.grad.set([0.5, -2]);
    sparse.grad.set([0, 0, 3, -3, 0, 0]);
    sparse.touched!.add(1);
    sparse.value.fill(1);
    createOptimizer([dense, sparse], DEFAULT_ADAM).step(0.1);
    expect(Array.from(dense.value)).toEqual([expect.closeTo(-0.1, 5), expect.closeTo(0.1, 5)]);
    expect(Array.from(sparse.value)).toEqual([1, 1, expect.closeTo(0.9, 5), expect.closeTo(1.1, 5), 1, 1]);
    expect(sparse.grad.every((g) => g === 0)).toBe(true);
    expect(sparse.touched!.size).toBe(0);
  });

  it('SGD with decoupled weight decay', () => {
    const p = new Parameter('p', [1]);
    p.value[0] = 2;
    p.grad[0] = 1;
    createOptimizer([p], { kind: 'sgd', weightDecay: 0.5 }).step(0.1);
    expect(p.value[0]).toBeCloseTo(2 * 0.95 - 0.1, 6);
  });

  it('clips the global norm', () => {
    const p = new Parameter('p', [2]);
    p.grad.set([3, 4]);
    expect(clipGradientNorm([p], 1)).toBeCloseTo(5, 6);
    expect(Array.from(p.grad)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
  });

  it('warms up linearly and decays linearly or by cosine', () => {
    const base = { base: 1, warmupSteps: 10, finalFactor: 0 };
    expect(learningRateAt({ ...base, decay: 'linear' }, 4, 110)).toBeCloseTo(0.5);
    expect(learningRateAt({ ...base, decay: 'linear' }, 60, 110)).toBeCloseTo(0.5);
    expect(learningRateAt({ ...base, decay: 'cosine' }, 60, 110)).toBeCloseTo(0.5);
    expect(learningRateAt({ ...base, decay: 'cosine' }, 35, 110)).toBeCloseTo(
      0.5 * (1 + Math.cos(Math.PI / 4)),
    );
    expect(learningRateAt({ ...base, decay: 'constant' }, 100, 110)).toBe(1);
  });
});

describe('checkpoints', () => {
  it('round-trip parameters, optimiser state and counters, and refuse a different model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    try {
      const a = new Parameter('a', [3, 5]);
      a.value.set(randomArray(15));
      const path = join(dir, 'model.ckpt');
      const slots = [randomArray(15), randomArray(15)];
      await saveCheckpoint(path, [a], {
        epoch: 3,
        step: 77,
        rngState: 123456,
        optimizer: { step: 77, slots },
        extra: { best: 0.5 },
      });
      const b = new Parameter('a', [3, 5]);
      const loaded = await loadCheckpoint(path, [b]);
      expect(Array.from(b.value)).toEqual(Array.from(a.value));
      expect(loaded).toMatchObject({ epoch: 3, step: 77, rngState: 123456, extra: { best: 0.5 } });
      expect(Array.from(loaded.optimizer.slots[1]!)).toEqual(Array.from(slots[1]!));
      await expect(loadCheckpoint(path, [new Parameter('other', [3, 5])])).rejects.toThrow(/does not match/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('head engines', () => {
  it('onnxruntime and TypeScript agree on probabilities, loss and every gradient', async () => {
    const [B, K, C] = [7, 12, 40];
    const h = randomArray(B * K);
    const labels = Int32Array.from({ length: B }, () => rng.int(C));
    const weights = Float32Array.from({ length: B }, () => 0.5 + rng.next());
    const make = () => {
      const w = new Parameter('w', [K, C]);
      const b = new Parameter('b', [C]);
      w.value.set(randomArray(K * C, 0.3).map((v, i) => v + (i % 3)));
      b.value.fill(0.1);
      return { w, b };
    };
    const ts = make();
    const ort = make();
    ort.w.value.set(ts.w.value);
    const tsEngine = createTypeScriptHeadEngine();
    const ortEngine = await createOnnxHeadEngine(K, C, 1);
    try {
      const r1 = await tsEngine.step(h, B, ts.w, ts.b, labels, weights);
      const r2 = await ortEngine.step(h, B, ort.w, ort.b, labels, weights);
      expect(r2.loss).toBeCloseTo(r1.loss, 3);
      for (const [x, y] of [
        [r1.probs, r2.probs],
        [r1.dh, r2.dh],
        [ts.w.grad, ort.w.grad],
        [ts.b.grad, ort.b.grad],
      ] as const) {
        expect(x.length).toBe(y.length);
        for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-5);
      }
      const l1 = await headLogits(tsEngine, h, B, ts.w, ts.b);
      const l2 = await headLogits(ortEngine, h, B, ts.w, ts.b);
      for (let i = 0; i < l1.length; i++) expect(Math.abs(l1[i]! - l2[i]!)).toBeLessThan(1e-4);
    } finally {
      await ortEngine.close();
    }
  });
});

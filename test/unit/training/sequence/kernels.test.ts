import { createRandom } from '../../../../shared/math/random';
import { RowSet } from '../../../../training/nn/kernels';
import {
  ConvShape,
  convPoolBackward,
  convPoolForward,
  kernelRowIndex,
  kernelRows,
  pooledSize,
} from '../../../../training/nn/sequence/convPool';
import { multiplyTransposed } from '../../../../training/nn/sequence/dense';
import {
  GradientPairs,
  multiplyTransposedSimd,
  simdAvailable,
  simdModuleBytes,
} from '../../../../training/nn/sequence/simd';
import { applyMask, dropoutMask } from '../../../../training/nn/sequence/dropout';
import { GruParameters, gruBackward, gruForward } from '../../../../training/nn/sequence/gru';
import {
  PackedTokens,
  packTokenFeatures,
  selectSequences,
  tokenCount,
  tokenGridFromPacked,
} from '../../../../training/nn/sequence/packed';
import {
  subwordEmbeddingBackward,
  subwordEmbeddingForward,
} from '../../../../training/nn/sequence/subwordEmbedding';
import { checkGradient, dot, probeWeights, randomArray } from './gradcheck';

/** Random texts of 0..maxLength tokens with 1..4 feature ids each in [1, rows). */
function randomTexts(count: number, maxLength: number, rows: number, seed: number): Int32Array[][] {
  const rng = createRandom(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: rng.int(maxLength + 1) }, () =>
      Int32Array.from({ length: 1 + rng.int(4) }, () => 1 + rng.int(rows - 1)),
    ),
  );
}

describe('packed token sequences', () => {
  it('packs texts with caps and gives empty texts one featureless token', () => {
    const texts = [
      [Int32Array.of(3, 4, 5), Int32Array.of(6)],
      [],
      [Int32Array.of(7), Int32Array.of(8), Int32Array.of(9)],
    ];
    const packed = packTokenFeatures(texts, 2, 2);
    expect(Array.from(packed.sequenceOffsets)).toEqual([0, 2, 3, 5]);
    expect(Array.from(packed.featureOffsets)).toEqual([0, 2, 3, 3, 4, 5]);
    expect(Array.from(packed.featureIds)).toEqual([3, 4, 6, 7, 8]);
    expect(() => packTokenFeatures([[Int32Array.of(0)]], 4, 4)).toThrow(RangeError);
  });

  it('selects sequences and lays them out as the zero-padded serving grid', () => {
    const packed = packTokenFeatures(randomTexts(20, 6, 50, 1), 32, 32);
    const chosen = selectSequences(packed, [5, 0, 5]);
    expect(chosen.size).toBe(3);
    const grid = tokenGridFromPacked(chosen, 7, 5);
    for (let i = 0; i < 3; i++) {
      const source = [5, 0, 5][i]!;
      const first = packed.sequenceOffsets[source]!;
      const length = packed.sequenceOffsets[source + 1]! - first;
      for (let t = 0; t < 7; t++) {
        const row = Array.from(grid.ids.subarray((i * 7 + t) * 5, (i * 7 + t + 1) * 5)).filter(
          (id) => id !== 0,
        );
        const expected =
          t < length
            ? Array.from(
                packed.featureIds.subarray(
                  packed.featureOffsets[first + t],
                  packed.featureOffsets[first + t + 1],
                ),
              )
            : [];
        expect(row).toEqual(expected);
      }
    }
    expect(() => tokenGridFromPacked(chosen, 1, 5)).toThrow(RangeError);
  });
});

describe('SIMD kernels', () => {
  it('validates as WebAssembly', () => {
    expect(simdModuleBytes().length).toBeGreaterThan(100);
    expect(simdAvailable()).toBe(true);
  });

  it.each([
    [1, 1, 1],
    [3, 5, 7],
    [4, 8, 2],
    [37, 64, 51],
  ])('a · bᵀ matches the naive product and the JavaScript kernel for %i x %i x %i', (m, k, n) => {
    const a = randomArray(m * k, 1);
    const b = randomArray(n * k, 2);
    const bias = randomArray(n, 3);
    for (const withBias of [bias, undefined]) {
      const reference = new Float32Array(m * n);
      const simd = new Float32Array(m * n).fill(Number.NaN);
      multiplyTransposed(a, b, reference, m, k, n, withBias);
      multiplyTransposedSimd(a, b, simd, m, k, n, withBias);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = withBias ? withBias[j]! : 0;
          for (let q = 0; q < k; q++) s += a[i * k + q]! * b[j * k + q]!;
          expect(reference[i * n + j]).toBeCloseTo(s, 4);
          expect(simd[i * n + j]).toBeCloseTo(s, 4);
        }
      }
    }
  });

  it('applies gradient pairs like the scalar loop, accumulating into existing gradients', () => {
    const dim = 8;
    const x = randomArray(5 * dim, 4);
    const k = randomArray(7 * dim, 5);
    const dX = randomArray(5 * dim, 6);
    const dK = randomArray(7 * dim, 7);
    const expectedX = Float32Array.from(dX);
    const expectedK = Float32Array.from(dK);
    const pairs = new GradientPairs();
    const rng = createRandom(8);
    for (let r = 0; r < 5000; r++) {
      const g = rng.next() - 0.5;
      const xRow = rng.int(5);
      const kRow = rng.int(7);
      pairs.add(g, xRow, kRow);
      for (let d = 0; d < dim; d++) {
        expectedK[kRow * dim + d] = expectedK[kRow * dim + d]! + g * x[xRow * dim + d]!;
        expectedX[xRow * dim + d] = expectedX[xRow * dim + d]! + g * k[kRow * dim + d]!;
      }
    }
    pairs.apply(x, k, dX, dK, dim);
    dX.forEach((v, i) => expect(v).toBeCloseTo(expectedX[i]!, 3));
    dK.forEach((v, i) => expect(v).toBeCloseTo(expectedK[i]!, 3));
    expect(pairs.count).toBe(0);
    expect(() => pairs.apply(x, k, dX, dK, 6)).toThrow(RangeError);
  });
});

describe('subword embedding', () => {
  const rows = 30;
  const dim = 5;
  const packed = packTokenFeatures(randomTexts(12, 5, rows, 2), 32, 32);

  it('sums the feature rows of each token', () => {
    const table = randomArray(rows * dim, 3);
    const out = subwordEmbeddingForward(table, dim, packed);
    for (let t = 0; t < tokenCount(packed); t++) {
      for (let d = 0; d < dim; d++) {
        let s = 0;
        for (let f = packed.featureOffsets[t]!; f < packed.featureOffsets[t + 1]!; f++)
          s += table[packed.featureIds[f]! * dim + d]!;
        expect(out[t * dim + d]).toBeCloseTo(s, 5);
      }
    }
  });

  it('has the finite-difference gradient, on touched rows only', () => {
    const table = randomArray(rows * dim, 4);
    const probe = probeWeights(tokenCount(packed) * dim, 5);
    const grad = new Float32Array(rows * dim);
    const touched = new RowSet(rows);
    subwordEmbeddingBackward(Float32Array.from(probe), dim, packed, grad, touched);
    const check = checkGradient(table, grad, () => dot(subwordEmbeddingForward(table, dim, packed), probe), {
      count: rows * dim,
    });
    expect(check.worst).toBeLessThan(1e-3);
    const used = new Set(packed.featureIds);
    expect(new Set(touched.rowsView())).toEqual(used);
    expect(touched.rowsView()).not.toContain(0);
  });
});

/** The convolution written the slow obvious way: explicit zero-padded windows. */
function naiveConvPool(
  x: Float32Array,
  packed: PackedTokens,
  shape: ConvShape,
  kernel: Float32Array,
  bias: Float32Array,
): Float32Array {
  const { inputDim, widths, filters } = shape;
  const out = new Float32Array(packed.size * pooledSize(shape));
  for (let b = 0; b < packed.size; b++) {
    const first = packed.sequenceOffsets[b]!;
    const length = packed.sequenceOffsets[b + 1]! - first;
    widths.forEach((w, i) => {
      for (let f = 0; f < filters; f++) {
        let best = -Infinity;
        for (let p = 0; p < Math.max(1, length - w + 1); p++) {
          let s = 0;
          for (let j = 0; j < w; j++) {
            if (p + j >= length) continue;
            const row = kernelRowIndex(shape, i, j, f);
            for (let d = 0; d < inputDim; d++)
              s += kernel[row * inputDim + d]! * x[(first + p + j) * inputDim + d]!;
          }
          best = Math.max(best, s);
        }
        out[b * pooledSize(shape) + i * filters + f] = Math.max(0, best + bias[i * filters + f]!);
      }
    });
  }
  return out;
}

describe('convolution with max-over-time pooling', () => {
  const shape: ConvShape = { inputDim: 4, widths: [1, 2, 4], filters: 3 };
  // Lengths 0..6 cover sequences shorter than, equal to and longer than every kernel.
  const packed = packTokenFeatures(randomTexts(16, 6, 9, 11), 32, 32);
  const tokens = tokenCount(packed);

  it('matches explicit zero-padded windows, including sequences shorter than the kernel', () => {
    const x = randomArray(tokens * shape.inputDim, 12);
    const kernel = randomArray(kernelRows(shape) * shape.inputDim, 13);
    const bias = randomArray(pooledSize(shape), 14, 0.5);
    const { pooled } = convPoolForward(x, packed.sequenceOffsets, packed.size, shape, kernel, bias);
    const expected = naiveConvPool(x, packed, shape, kernel, bias);
    pooled.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    expect(pooled.some((v) => v === 0)).toBe(true);
    expect(pooled.some((v) => v > 0)).toBe(true);
  });

  it('has finite-difference gradients for inputs, kernel and bias', () => {
    const x = randomArray(tokens * shape.inputDim, 15);
    const kernel = randomArray(kernelRows(shape) * shape.inputDim, 16);
    const bias = randomArray(pooledSize(shape), 17, 0.5);
    const probe = probeWeights(packed.size * pooledSize(shape), 18);
    const loss = (): number =>
      dot(convPoolForward(x, packed.sequenceOffsets, packed.size, shape, kernel, bias).pooled, probe);
    const forward = convPoolForward(x, packed.sequenceOffsets, packed.size, shape, kernel, bias);
    const dX = new Float32Array(x.length);
    const dKernel = new Float32Array(kernel.length);
    const dBias = new Float32Array(bias.length);
    const dPooled = Float32Array.from(probe);
    convPoolBackward(
      x,
      packed.sequenceOffsets,
      packed.size,
      shape,
      kernel,
      forward,
      dPooled,
      dX,
      dKernel,
      dBias,
    );
    // Small steps: the loss is piecewise linear and a larger step could cross a max or ReLU switch.
    for (const [values, grad] of [
      [x, dX],
      [kernel, dKernel],
      [bias, dBias],
    ] as const) {
      expect(checkGradient(values, grad, loss, { eps: 1e-3, count: 60 }).worst).toBeLessThan(5e-3);
    }
    expect(dKernel.some((v) => v !== 0)).toBe(true);
  });
});

describe('dropout', () => {
  it('is seeded, keeps about 1 - rate, and scales the kept units', () => {
    const a = dropoutMask(10000, 0.3, createRandom(1));
    const b = dropoutMask(10000, 0.3, createRandom(1));
    expect(a).toEqual(b);
    const kept = a.filter((v) => v !== 0);
    expect(kept.length / a.length).toBeGreaterThan(0.67);
    expect(kept.length / a.length).toBeLessThan(0.73);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.7)]));
    const values = Float32Array.of(1, 2, 3);
    applyMask(values, Float32Array.of(0, 2, 1));
    expect(Array.from(values)).toEqual([0, 4, 3]);
    expect(() => dropoutMask(3, 1, createRandom(1))).toThrow(RangeError);
  });
});

describe('GRU', () => {
  const inputDim = 3;
  const hidden = 4;
  const packed = packTokenFeatures(randomTexts(7, 5, 9, 21), 32, 32);
  const tokens = tokenCount(packed);
  const params: GruParameters = {
    inputWeights: randomArray(3 * hidden * inputDim, 22, 0.8),
    recurrentWeights: randomArray(3 * hidden * hidden, 23, 0.8),
    inputBias: randomArray(3 * hidden, 24, 0.3),
    recurrentBias: randomArray(3 * hidden, 25, 0.3),
  };

  it('computes the ONNX (linear_before_reset) recurrence', () => {
    const x = randomArray(tokens * inputDim, 26);
    const { last } = gruForward(x, packed.sequenceOffsets, packed.size, inputDim, hidden, params);
    const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
    for (let b = 0; b < packed.size; b++) {
      let h = new Array<number>(hidden).fill(0);
      for (let t = packed.sequenceOffsets[b]!; t < packed.sequenceOffsets[b + 1]!; t++) {
        const gate = (g: number, k: number, withInput: boolean): [number, number] => {
          const row = g * hidden + k;
          let wx = params.inputBias[row]!;
          for (let d = 0; d < inputDim; d++)
            wx += params.inputWeights[row * inputDim + d]! * x[t * inputDim + d]!;
          let rh = params.recurrentBias[row]!;
          for (let j = 0; j < hidden; j++) rh += params.recurrentWeights[row * hidden + j]! * h[j]!;
          return withInput ? [wx, rh] : [0, rh];
        };
        h = h.map((prev, k) => {
          const [zx, zh] = gate(0, k, true);
          const [rx, rh] = gate(1, k, true);
          const [nx, nh] = gate(2, k, true);
          const z = sigmoid(zx + zh);
          const r = sigmoid(rx + rh);
          const n = Math.tanh(nx + r * nh);
          return (1 - z) * n + z * prev;
        });
      }
      h.forEach((v, k) => expect(last[b * hidden + k]).toBeCloseTo(v, 5));
    }
  });

  it('has finite-difference gradients through time for every parameter and the inputs', () => {
    const x = randomArray(tokens * inputDim, 27);
    const probe = probeWeights(packed.size * hidden, 28);
    const loss = (): number =>
      dot(gruForward(x, packed.sequenceOffsets, packed.size, inputDim, hidden, params).last, probe);
    const forward = gruForward(x, packed.sequenceOffsets, packed.size, inputDim, hidden, params);
    const grads = {
      inputWeights: new Float32Array(params.inputWeights.length),
      recurrentWeights: new Float32Array(params.recurrentWeights.length),
      inputBias: new Float32Array(params.inputBias.length),
      recurrentBias: new Float32Array(params.recurrentBias.length),
    };
    const dX = new Float32Array(x.length);
    gruBackward(
      x,
      packed.sequenceOffsets,
      packed.size,
      inputDim,
      hidden,
      params,
      forward,
      Float32Array.from(probe),
      grads,
      dX,
    );
    expect(checkGradient(x, dX, loss, { count: x.length }).worst).toBeLessThan(2e-3);
    for (const key of ['inputWeights', 'recurrentWeights', 'inputBias', 'recurrentBias'] as const) {
      const check = checkGradient(params[key], grads[key], loss, { count: params[key].length });
      expect(check.worst).toBeLessThan(2e-3);
    }
  });
});

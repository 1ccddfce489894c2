/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { createRandom } from '../../../../shared/math/random';
import { BagBatch, packBags } from '../../../../shared/text/encoder';
import { softmaxCrossEntropy } from '../../../../training/nn/kernels';
import { BagModel, BagModelConfig, createBagModel } from '../../../../training/models';
import {
  inverseDocumentFrequencies,
  weightedBagCoefficients,
} from '../../../../training/models/feature-weights';
import { Model } from '../../../../training/models/model';

const ROWS = 30;
const CLASSES = 7;

const configs: BagModelConfig[] = [
  { kind: 'linear', rows: ROWS, classes: CLASSES },
  { kind: 'bag', rows: ROWS, dim: 6, hidden: [], dropout: 0, classes: CLASSES },
  { kind: 'dnn', rows: ROWS, dim: 6, hidden: [8, 5], dropout: 0, classes: CLASSES },
  { kind: 'bag', rows: ROWS, dim: 6, hidden: [], dropout: 0, pooling: 'sqrt', classes: CLASSES },
  { kind: 'linear', rows: ROWS, classes: CLASSES, featureWeighting: 'idf' },
  { kind: 'bag', rows: ROWS, dim: 6, hidden: [], dropout: 0, featureWeighting: 'idf', classes: CLASSES },
  {
    kind: 'dnn',
    rows: ROWS,
    dim: 6,
    hidden: [8],
    dropout: 0,
    pooling: 'mean',
    featureWeighting: 'idf',
    classes: CLASSES,
  },
];

/** Gives idf-weighted models uneven weights, so a test sees the weighting rather than the unit default. */
function unevenFeatureWeights(model: BagModel, seed: number): void {
  if (!model.featureWeights) return;
  const rng = createRandom(seed);
  model.setFeatureWeights(
    Float32Array.from({ length: ROWS }, (_, id) => (id === 0 ? 0 : 0.2 + 3 * rng.next())),
  );
}

function randomBatch(seed: number, size: number): { input: BagBatch; labels: Int32Array } {
  const rng = createRandom(seed);
  const bags = Array.from({ length: size }, () =>
    Int32Array.from({ length: 1 + rng.int(6) }, () => 1 + rng.int(ROWS - 1)),
  );
  return { input: packBags(bags), labels: Int32Array.from({ length: size }, () => rng.int(CLASSES)) };
}

function loss(model: Model<BagBatch>, input: BagBatch, labels: Int32Array): number {
  const logits = model.forward(input, null);
  return (
    softmaxCrossEntropy(logits, input.size, CLASSES, labels, null, new Float32Array(logits.length), null) /
    input.size
  );
}

describe.each(configs)('$kind model', (config) => {
  it('passes a finite-difference gradient check on every parameter', () => {
    const model = createBagModel(config, createRandom(3));
    unevenFeatureWeights(model, 13);
    // Non-zero weights everywhere (the linear model starts at zero), padding rows excepted.
    const perturb = createRandom(9);
    for (const p of model.parameters()) {
      for (let i = p.touched ? p.rowSize : 0; i < p.size; i++)
        p.value[i] = p.value[i]! + perturb.normal() * 0.3;
    }
    const { input, labels } = randomBatch(5, 4);
    const logits = model.forward(input, null);
    const dLogits = new Float32Array(logits.length);
    softmaxCrossEntropy(logits, input.size, CLASSES, labels, null, new Float32Array(logits.length), dLogits);
    model.backward(dLogits);
    const pick = createRandom(11);
    let checked = 0;
    for (const p of model.parameters()) {
      const analytic = p.grad.slice();
      for (let trial = 0; trial < 25; trial++) {
        const i = (p.touched ? p.rowSize : 0) + pick.int(p.size - (p.touched ? p.rowSize : 0));
        const original = p.value[i]!;
        // Small enough to rarely straddle a ReLU kink, large enough for float32 logits.
        const eps = 1e-3;
        p.value[i] = original + eps;
        const up = loss(model, input, labels);
        p.value[i] = original - eps;
        const down = loss(model, input, labels);
        p.value[i] = original;
        const numeric = (up - down) / (2 * eps);
        expect(Math.abs(numeric - analytic[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
        checked++;
      }
    }
    expect(checked).toBe(25 * model.parameters().length);
  });

  it('keeps the padding row at zero and initialises deterministically from the seed', () => {
    const a = createBagModel(config, createRandom(4));
    const b = createBagModel(config, createRandom(4));
    const c = createBagModel(config, createRandom(5));
    a.parameters().forEach((p, i) =>
      expect(Array.from(p.value)).toEqual(Array.from(b.parameters()[i]!.value)),
    );
    const table = a.parameters()[0]!;
    expect(table.value.subarray(0, table.rowSize).every((v) => v === 0)).toBe(true);
    if (config.kind !== 'linear') {
      expect(Array.from(a.parameters()[0]!.value)).not.toEqual(Array.from(c.parameters()[0]!.value));
    }
  });

  it('gives the same logits through the dense head split as through forward', () => {
    const model = createBagModel(config, createRandom(6));
    unevenFeatureWeights(model, 14);
    const { input } = randomBatch(7, 5);
    const logits = model.forward(input, null).slice();
    if (!model.head) {
      expect(config.kind).toBe('linear');
      return;
    }
    const h = model.head.forwardBody(input, null);
    for (let b = 0; b < input.size; b++) {
      for (let c = 0; c < CLASSES; c++) {
        let s = model.head.bias.value[c]!;
        for (let k = 0; k < model.head.inputs; k++)
          s += h[b * model.head.inputs + k]! * model.head.weight.value[k * CLASSES + c]!;
        expect(logits[b * CLASSES + c]).toBeCloseTo(s, 4);
      }
    }
  });
});

it('dropout is seeded and active only in training', () => {
  const model = createBagModel(
    { kind: 'dnn', rows: ROWS, dim: 6, hidden: [50], dropout: 0.5, classes: CLASSES },
    createRandom(1),
  );
  if (!model.head) throw new Error('dnn has a head');
  const { input } = randomBatch(2, 3);
  const inference = model.head.forwardBody(input, null).slice();
  const trainA = model.head.forwardBody(input, { rng: createRandom(8) }).slice();
  const trainB = model.head.forwardBody(input, { rng: createRandom(8) }).slice();
  expect(Array.from(trainA)).toEqual(Array.from(trainB));
  expect(Array.from(trainA)).not.toEqual(Array.from(inference));
  expect(model.head.forwardBody(input, null)).toEqual(inference);
});

describe('feature weights', () => {
  it('computes smoothed idf once per bag and keeps padding at zero', () => {
    const weights = inverseDocumentFrequencies(
      [Int32Array.of(1, 2, 2), Int32Array.of(2), Int32Array.of(3)],
      5,
    );
    expect(weights[0]).toBe(0);
    expect(weights[1]).toBeCloseTo(Math.log(4 / 2) + 1, 6);
    expect(weights[2]).toBeCloseTo(Math.log(4 / 3) + 1, 6);
    expect(weights[4]).toBeCloseTo(Math.log(4 / 1) + 1, 6);
    expect(() => inverseDocumentFrequencies([Int32Array.of(5)], 5)).toThrow(/outside/);
  });

  it('normalises the weighted bag to unit length and leaves empty rows at zero', () => {
    const weights = Float32Array.of(0, 3, 4, 1);
    const c = weightedBagCoefficients(Int32Array.of(1, 2, 0, 0, 0, 0), 2, 3, weights, 'sqrt');
    expect(Array.from(c)).toEqual([3 / 5, 4 / 5, 0, 0, 0, 0].map(Math.fround));
    const mean = weightedBagCoefficients(Int32Array.of(1, 3), 1, 2, weights, 'mean');
    expect(Array.from(mean)).toEqual([3 / 4, 1 / 4]);
  });

  it('equals the unweighted model until weights are set, then differs', () => {
    const plain = createBagModel(
      { kind: 'bag', rows: ROWS, dim: 6, hidden: [], dropout: 0, classes: CLASSES },
      createRandom(4),
    );
    const weighted = createBagModel(
      { kind: 'bag', rows: ROWS, dim: 6, hidden: [], dropout: 0, featureWeighting: 'idf', classes: CLASSES },
      createRandom(4),
    );
    const { input } = randomBatch(8, 6);
    const expected = Array.from(plain.forward(input, null));
    Array.from(weighted.forward(input, null)).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    unevenFeatureWeights(weighted, 15);
    expect(Array.from(weighted.forward(input, null))).not.toEqual(Array.from(plain.forward(input, null)));
  });

  it('refuses weights of the wrong shape, a weighted padding row, and models without weighting', () => {
    const model = createBagModel(
      { kind: 'linear', rows: ROWS, classes: CLASSES, featureWeighting: 'idf' },
      createRandom(1),
    );
    expect(() => model.setFeatureWeights(new Float32Array(ROWS - 1))).toThrow(/29 feature weights/);
    expect(() => model.setFeatureWeights(new Float32Array(ROWS).fill(1))).toThrow(/padding/);
    const plain = createBagModel({ kind: 'linear', rows: ROWS, classes: CLASSES }, createRandom(1));
    expect(() => plain.setFeatureWeights(new Float32Array(ROWS))).toThrow(/featureWeighting 'idf'/);
  });
});

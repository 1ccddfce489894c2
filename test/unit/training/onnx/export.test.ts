/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { createRandom } from '../../../../shared/math/random';
import { describeEncoder, packBags, resolveEncoderConfig } from '../../../../shared/text/encoder';
import { softmaxRows } from '../../../../training/nn/kernels';
import { BagModelConfig, createBagModel } from '../../../../training/models';
import {
  INPUT_NAME,
  LOGITS_NAME,
  PROBABILITIES_NAME,
  exportBagEnsemble,
  exportBagModel,
  idsToInt64,
} from '../../../../training/onnx/export';

const ROWS = 500;
const CLASSES = 60;
const encoder = describeEncoder(resolveEncoderConfig({ buckets: ROWS - 1 }));
const classNames = Array.from({ length: CLASSES }, (_, i) => String(100000 + i));

const configs: BagModelConfig[] = [
  { kind: 'linear', rows: ROWS, classes: CLASSES },
  { kind: 'bag', rows: ROWS, dim: 16, hidden: [], dropout: 0.2, classes: CLASSES },
  { kind: 'dnn', rows: ROWS, dim: 16, hidden: [32, 24], dropout: 0.2, classes: CLASSES },
  { kind: 'dnn', rows: ROWS, dim: 16, hidden: [32], dropout: 0, pooling: 'sqrt', classes: CLASSES },
  { kind: 'linear', rows: ROWS, classes: CLASSES, featureWeighting: 'idf' },
  { kind: 'bag', rows: ROWS, dim: 16, hidden: [], dropout: 0, featureWeighting: 'idf', classes: CLASSES },
  {
    kind: 'dnn',
    rows: ROWS,
    dim: 16,
    hidden: [32],
    dropout: 0,
    pooling: 'mean',
    featureWeighting: 'idf',
    classes: CLASSES,
  },
];

describe.each(configs)('ONNX export of the $kind model', (config) => {
  it('agrees with the TypeScript forward pass within 1e-4 on 1,000 generated inputs', async () => {
    const model = createBagModel(config, createRandom(2));
    // Trained-looking weights: random everywhere except the padding row, which training never touches.
    const rng = createRandom(3);
    for (const p of model.parameters()) {
      for (let i = p.touched ? p.rowSize : 0; i < p.size; i++) p.value[i] = rng.normal() * 0.5;
    }
    if (model.featureWeights) {
      model.setFeatureWeights(
        Float32Array.from({ length: ROWS }, (_, id) => (id === 0 ? 0 : 1 + 6 * rng.next())),
      );
    }
    const bytes = exportBagModel(model, { encoder, classNames, extra: { run: 'test' } });
    const decoded = onnx.ModelProto.decode(bytes);
    const metadata = Object.fromEntries(decoded.metadataProps.map((m) => [m.key, m.value]));
    expect(JSON.parse(metadata.encoder)).toEqual(encoder);
    expect(JSON.parse(metadata.classes)).toEqual(classNames);
    expect(metadata.run).toBe('test');

    const session = await ort.InferenceSession.create(bytes);
    try {
      // Ragged bags (1..40 ids, some all-padding rows beyond the text) with ids over the whole table.
      const bags = Array.from({ length: 1000 }, (_, i) =>
        Int32Array.from({ length: i % 97 === 0 ? 0 : 1 + rng.int(40) }, () => 1 + rng.int(ROWS - 1)),
      );
      for (let start = 0; start < bags.length; start += 250) {
        const batch = packBags(bags.slice(start, start + 250));
        const expectedLogits = model.forward(batch, null).slice();
        const expectedProbs = new Float32Array(expectedLogits.length);
        softmaxRows(expectedLogits, batch.size, CLASSES, expectedProbs);
        const out = await session.run({
          [INPUT_NAME]: new ort.Tensor('int64', idsToInt64(batch.ids), [batch.size, batch.width]),
        });
        const logits = out[LOGITS_NAME]!.data as Float32Array;
        const probs = out[PROBABILITIES_NAME]!.data as Float32Array;
        expect(probs.length).toBe(expectedProbs.length);
        let worstProb = 0;
        let worstLogit = 0;
        for (let i = 0; i < probs.length; i++) {
          worstProb = Math.max(worstProb, Math.abs(probs[i]! - expectedProbs[i]!));
          worstLogit = Math.max(
            worstLogit,
            Math.abs(logits[i]! - expectedLogits[i]!) / (1 + Math.abs(expectedLogits[i]!)),
          );
        }
        expect(worstProb).toBeLessThan(1e-4);
        expect(worstLogit).toBeLessThan(1e-4);
      }
    } finally {
      await session.release();
    }
  });
});

it('refuses metadata whose class names do not match the model', () => {
  const model = createBagModel(configs[1]!, createRandom(1));
  expect(() => exportBagModel(model, { encoder, classNames: ['010110'] })).toThrow(
    /1 class names for 60 classes/,
  );
});

describe('ONNX export of an ensemble', () => {
  const members: { config: BagModelConfig; weight: number }[] = [
    { config: configs[4]!, weight: 2 },
    { config: configs[2]!, weight: 1 },
    { config: configs[5]!, weight: 1 },
  ];

  function trainedLooking(config: BagModelConfig, seed: number): ReturnType<typeof createBagModel> {
    const model = createBagModel(config, createRandom(seed));
    const rng = createRandom(seed + 100);
    for (const p of model.parameters()) {
      for (let i = p.touched ? p.rowSize : 0; i < p.size; i++) p.value[i] = rng.normal() * 0.5;
    }
    if (model.featureWeights) {
      model.setFeatureWeights(
        Float32Array.from({ length: ROWS }, (_, id) => (id === 0 ? 0 : 1 + 6 * rng.next())),
      );
    }
    return model;
  }

  it('averages the members probabilities with their weights, within 1e-4 on 1,000 generated inputs', async () => {
    const models = members.map((m, i) => trainedLooking(m.config, 20 + i));
    const bytes = exportBagEnsemble(
      models.map((model, i) => ({ model, weight: members[i]!.weight })),
      { encoder, classNames },
    );
    const metadata = Object.fromEntries(
      onnx.ModelProto.decode(bytes).metadataProps.map((m) => [m.key, m.value]),
    );
    const described = JSON.parse(metadata.model) as { kind: string; members: { weight: number }[] };
    expect(described.kind).toBe('ensemble');
    expect(described.members.map((m) => m.weight)).toEqual([0.5, 0.25, 0.25]);
    const session = await ort.InferenceSession.create(bytes);
    try {
      const rng = createRandom(30);
      const bags = Array.from({ length: 1000 }, (_, i) =>
        Int32Array.from({ length: i % 97 === 0 ? 0 : 1 + rng.int(40) }, () => 1 + rng.int(ROWS - 1)),
      );
      for (let start = 0; start < bags.length; start += 250) {
        const batch = packBags(bags.slice(start, start + 250));
        const expected = new Float32Array(batch.size * CLASSES);
        models.forEach((model, i) => {
          const probs = new Float32Array(batch.size * CLASSES);
          softmaxRows(model.forward(batch, null), batch.size, CLASSES, probs);
          for (let k = 0; k < probs.length; k++)
            expected[k] = expected[k]! + probs[k]! * (members[i]!.weight / 4);
        });
        const out = await session.run({
          [INPUT_NAME]: new ort.Tensor('int64', idsToInt64(batch.ids), [batch.size, batch.width]),
        });
        const probs = out[PROBABILITIES_NAME]!.data as Float32Array;
        const logits = out[LOGITS_NAME]!.data as Float32Array;
        let worst = 0;
        for (let k = 0; k < probs.length; k++) {
          worst = Math.max(worst, Math.abs(probs[k]! - expected[k]!));
          worst = Math.max(worst, Math.abs(Math.exp(logits[k]!) - expected[k]!));
        }
        expect(worst).toBeLessThan(1e-4);
      }
    } finally {
      await session.release();
    }
  });

  it('refuses members with different classes and an empty ensemble', () => {
    const a = createBagModel(configs[1]!, createRandom(1));
    const b = createBagModel({ ...configs[1]!, classes: CLASSES + 1 }, createRandom(1));
    expect(() => exportBagEnsemble([{ model: a }, { model: b }], { encoder, classNames })).toThrow(
      /61 classes/,
    );
    expect(() => exportBagEnsemble([], { encoder, classNames })).toThrow(/at least one member/);
  });
});

/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import { classifyBatch } from '../../../../shared/inference/classify';
import { bagOfTokens, encodeTokenLists } from '../../../../shared/inference/features';
import {
  calibratedProbabilityAt,
  calibratedSoftmax,
  rollUp,
  topKIndices,
} from '../../../../shared/inference/math';
import fc from 'fast-check';
import { loadModelFrom, type ServingModel } from '../../../../shared/inference/model';
import { memoryPackageFiles } from '../../../../shared/model-package/package';
import { encodeBag, tokenize } from '../../../../shared/text/encoder';
import { buildTinyPackage } from '../../../support/inference/tiny-package';

const tiny = buildTinyPackage();
let model: ServingModel;

beforeAll(async () => {
  model = await loadModelFrom(memoryPackageFiles('memory:tiny', tiny.files), loadNomenclature());
});
afterAll(async () => {
  await model.release();
});

describe('post-processing numerics', () => {
  it('calibrated softmax sums to one and flattens with a higher temperature', () => {
    const logits = Float32Array.of(2, 1, 0, -1);
    const sharp = calibratedSoftmax(logits, 1);
    const flat = calibratedSoftmax(logits, 4);
    expect(sharp.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(flat.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(sharp[0]).toBeCloseTo(Math.exp(2) / (Math.exp(2) + Math.exp(1) + 1 + Math.exp(-1)), 12);
    expect(flat[0]!).toBeLessThan(sharp[0]!);
    expect(calibratedSoftmax(Float32Array.of(1000, 0), 1)[0]).toBe(1);
  });

  it('one calibrated probability is bit-identical to the same entry of the full softmax row', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -50, max: 50, noNaN: true, noDefaultInfinity: true }), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.double({ min: 0.05, max: 20, noNaN: true }),
        fc.nat(),
        (values, temperature, pick) => {
          const logits = Float32Array.from(values);
          const index = pick % logits.length;
          expect(calibratedProbabilityAt(logits, temperature, index)).toBe(
            calibratedSoftmax(logits, temperature)[index],
          );
        },
      ),
    );
  });

  it('top-k orders by value, keeps the lower index on ties, and caps at the class count', () => {
    expect(topKIndices(Float64Array.of(0.1, 0.4, 0.4, 0.05, 0.05), 3)).toEqual([1, 2, 0]);
    expect(topKIndices(Float64Array.of(0.3, 0.7), 5)).toEqual([1, 0]);
    expect(topKIndices(Float64Array.of(0.5, 0.2, 0.3), 1)).toEqual([0]);
  });

  it('rolls probabilities up by group', () => {
    const sums = rollUp(Float64Array.of(0.1, 0.2, 0.3, 0.4), Int32Array.of(0, 1, 0, 1), 2);
    expect(Array.from(sums)).toEqual([0.4, expect.closeTo(0.6, 12)]);
  });
});

describe('features', () => {
  it('a bag built from tokens equals the encoder bag of the same text', () => {
    for (const text of ['Cotton T-shirt 500ML, size XL', 'laptop 14" i7-1165G7 16GB', 'x', '']) {
      expect(bagOfTokens(tokenize(text, tiny.encoder), tiny.encoder)).toEqual(encodeBag(text, tiny.encoder));
    }
  });

  it('packs rows to the widest bag, capped, with zero padding', () => {
    const lists = [['a'], ['cotton', 'tshirt', 'knitted'], []];
    const packed = encodeTokenLists(lists, tiny.encoder, { layout: 'bag', maxFeatures: 8, perToken: 1 });
    expect(packed.dims).toEqual([3, 8]);
    expect(packed.ids.slice(16, 24).every((id) => id === 0n)).toBe(true);
    const grid = encodeTokenLists(lists, tiny.encoder, { layout: 'token_grid', maxFeatures: 8, perToken: 4 });
    expect(grid.dims).toEqual([3, tiny.encoder.maxTokens, 4]);
  });
});

describe('classifyBatch on a tiny real ONNX model', () => {
  it('ranks codes with nomenclature descriptions and rolls up to heading and chapter', async () => {
    const { items, timings } = await classifyBatch(model, ['Roasted coffee espresso 1kg'], {
      topK: 3,
      explain: false,
    });
    const [item] = items;
    expect(item!.codes).toHaveLength(3);
    expect(item!.codes[0]!.code).toBe('090121');
    expect(item!.codes[0]!.description).toMatch(/coffee/i);
    expect(item!.codes[0]!.confidence).toBeGreaterThan(item!.codes[1]!.confidence);
    expect(item!.heading.code).toBe('0901');
    expect(item!.heading.confidence).toBeGreaterThanOrEqual(item!.codes[0]!.confidence);
    expect(item!.chapter).toEqual({
      code: '09',
      description: expect.stringMatching(/coffee/i),
      confidence: expect.any(Number),
    });
    expect(item!.chapter.confidence).toBeGreaterThanOrEqual(item!.heading.confidence - 1e-6);
    expect(item!.explanation).toBeNull();
    expect(item!.normalizedText).toBe('roasted coffee espresso 1kg');
    expect(timings.inferenceMs).toBeGreaterThan(0);
  });

  it('decides auto when sure, and says when only the heading is sure', async () => {
    const { items } = await classifyBatch(model, ['cotton tshirt knitted', 'tshirt tee knitted'], {
      topK: 2,
      explain: false,
    });
    expect(items[0]!.codes[0]!.code).toBe('610910');
    expect(items[0]!.decision).toMatchObject({ outcome: 'auto', reason: 'confident' });
    expect(items[1]!.codes[0]!.confidence).toBeLessThan(0.9);
    expect(items[1]!.heading).toMatchObject({ code: '6109' });
    expect(items[1]!.heading.confidence).toBeGreaterThanOrEqual(0.9);
    expect(items[1]!.decision).toMatchObject({ outcome: 'review', reason: 'heading-sure' });
  });

  it('explains by occlusion: the class word carries the weight, filler does not', async () => {
    const { items } = await classifyBatch(model, ['laptop black pack'], { topK: 1, explain: true });
    const explanation = items[0]!.explanation!;
    expect(explanation.code).toBe('847130');
    expect(explanation.tokens.map((t) => t.token)).toEqual(['laptop', 'black', 'pack']);
    const [laptop, black, pack] = explanation.tokens;
    expect(laptop!.weight).toBeGreaterThan(0.3);
    expect(Math.abs(black!.weight)).toBeLessThan(laptop!.weight);
    expect(Math.abs(pack!.weight)).toBeLessThan(laptop!.weight);
  });

  it('gives each item the same answer alone as in a batch', async () => {
    const texts = ['cotton tshirt', 'desktop tower computer', 'android phone 128', 'green coffee beans'];
    const batch = await classifyBatch(model, texts, { topK: 3, explain: true });
    for (const [i, text] of texts.entries()) {
      const single = await classifyBatch(model, [text], { topK: 3, explain: true });
      expect(single.items[0]).toEqual(batch.items[i]);
    }
  });

  it('splits a run that would exceed the id budget and gives the same answer', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `roasted coffee espresso ${i} laptop tshirt`);
    const whole = await classifyBatch(model, texts, { topK: 3, explain: true });
    let runs = 0;
    const counting: ServingModel = {
      ...model,
      run: (input) => {
        runs++;
        expect(input.ids.length).toBeLessThanOrEqual(500);
        return model.run(input);
      },
    };
    const split = await classifyBatch(counting, texts, { topK: 3, explain: true, maxIdsPerRun: 500 });
    expect(runs).toBeGreaterThan(10);
    expect(split.items).toEqual(whole.items);
  });
});

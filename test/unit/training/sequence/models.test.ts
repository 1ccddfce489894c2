/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { createRandom } from '../../../../shared/math/random';
import { resolveEncoderConfig } from '../../../../shared/text/encoder';
import { softmaxCrossEntropy } from '../../../../training/nn/kernels';
import { packTexts, packedExampleSet, PackedTokens } from '../../../../training/nn/sequence/packed';
import { GruModel, GruModelConfig } from '../../../../training/models/gru';
import { TextCnnConfig, TextCnnModel } from '../../../../training/models/textcnn';
import { train } from '../../../../training/trainer';
import { checkGradient } from './gradcheck';
import { generatedTexts } from './texts';

const encoder = resolveEncoderConfig({ buckets: 61, maxTokens: 8 });
const CLASSES = 5;

const textCnnConfig: TextCnnConfig = {
  kind: 'textcnn',
  rows: encoder.buckets + 1,
  dim: 4,
  widths: [1, 2, 3],
  filters: 3,
  dropout: 0,
  classes: CLASSES,
};
const gruConfig: GruModelConfig = {
  kind: 'gru',
  rows: encoder.buckets + 1,
  dim: 4,
  hidden: 5,
  dropout: 0,
  classes: CLASSES,
};

function create(config: TextCnnConfig | GruModelConfig, seed: number): TextCnnModel | GruModel {
  return config.kind === 'textcnn'
    ? new TextCnnModel(config, createRandom(seed))
    : new GruModel(config, createRandom(seed));
}

function lossOf(model: TextCnnModel | GruModel, input: PackedTokens, labels: Int32Array): number {
  const logits = model.forward(input, null);
  const probs = new Float32Array(logits.length);
  return softmaxCrossEntropy(logits, input.size, CLASSES, labels, null, probs, null);
}

describe.each([textCnnConfig, gruConfig])('$kind model', (config) => {
  const texts = generatedTexts(12, 4);
  const input = packTexts(texts, encoder);
  const labels = Int32Array.from(texts, (_, i) => i % CLASSES);

  it('has finite-difference gradients for every parameter, end to end through the loss', () => {
    const model = create(config, 3);
    // Non-zero biases so that ReLUs and gates are off the origin.
    for (const p of model.parameters()) {
      if (p.name.includes('bias') || p.name.endsWith('b'))
        p.value.forEach((_, i) => (p.value[i] = ((i * 37) % 11) / 20 - 0.25));
    }
    const logits = model.forward(input, null);
    const probs = new Float32Array(logits.length);
    const dLogits = new Float32Array(logits.length);
    softmaxCrossEntropy(logits, input.size, CLASSES, labels, null, probs, dLogits);
    // The loss is a sum and dLogits belongs to the mean: scale to the summed loss.
    for (let i = 0; i < dLogits.length; i++) dLogits[i] = dLogits[i]! * input.size;
    model.backward(dLogits);
    for (const p of model.parameters()) {
      const check = checkGradient(p.value, p.grad, () => lossOf(model, input, labels), {
        eps: 1e-3,
        count: p.name.includes('embedding') ? 80 : 40,
        seed: 11,
      });
      expect({ name: p.name, ok: check.worst < 1e-2 }).toEqual({ name: p.name, ok: true });
    }
    expect(model.embedding.touched!.rowsView()).not.toContain(0);
    expect(model.embedding.value.subarray(0, config.dim).every((v) => v === 0)).toBe(true);
  });

  it('trains deterministically: same data, seed and settings give identical weights, and it learns', async () => {
    const many = generatedTexts(300, 5);
    const set = packedExampleSet(
      packTexts(many, encoder),
      Int32Array.from(many, (text) => (text.length === 0 ? 0 : text.charCodeAt(0) % CLASSES)),
    );
    const run = async (): Promise<{ weights: Float32Array[]; losses: number[] }> => {
      const model = create({ ...config, dropout: 0.2 }, 9);
      const result = await train(model, set, null, {
        epochs: 3,
        batchSize: 32,
        seed: 4,
        headEngine: 'typescript',
        schedule: { base: 1e-2, warmupSteps: 0, decay: 'linear', finalFactor: 0.1 },
      });
      return {
        weights: model.parameters().map((p) => p.value.slice()),
        losses: result.history.map((h) => h.loss),
      };
    };
    const first = await run();
    const second = await run();
    expect(second.weights).toEqual(first.weights);
    expect(first.losses[2]!).toBeLessThan(first.losses[0]!);
    // Padding row stays zero through training.
    expect(first.weights[0]!.subarray(0, config.dim).every((v) => v === 0)).toBe(true);
  });
});

describe('config validation', () => {
  it('rejects nonsense settings', () => {
    expect(() => create({ ...textCnnConfig, widths: [] }, 1)).toThrow(RangeError);
    expect(() => create({ ...textCnnConfig, dropout: 1 }, 1)).toThrow(RangeError);
    expect(() => create({ ...gruConfig, hidden: 0 }, 1)).toThrow(RangeError);
  });
});

/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import * as ort from 'onnxruntime-node';
import { createRandom } from '../../../../shared/math/random';
import { describeEncoder, packTokenGrids, resolveEncoderConfig } from '../../../../shared/text/encoder';
import { softmaxRows } from '../../../../training/nn/kernels';
import { packTexts, selectSequences, tokenCount } from '../../../../training/nn/sequence/packed';
import { GruModel } from '../../../../training/models/gru';
import { TextCnnModel } from '../../../../training/models/textcnn';
import { idsToInt64 } from '../../../../training/onnx/export';
import {
  INPUT_LAYOUT,
  exportGru,
  exportSequenceModel,
  exportTextCnn,
} from '../../../../training/onnx/sequence';
import { generatedTexts } from './texts';

const encoder = resolveEncoderConfig({ buckets: 4093, maxTokens: 24 });
const texts = generatedTexts(1000, 3);
const classes = 17;
const classNames = Array.from({ length: classes }, (_, i) => `c${i}`);

/** Makes every parameter non-trivial (biases included), so masks and ReLUs are exercised in both signs. */
function perturb(values: Float32Array, seed: number, scale: number, skipRows = 0, rowSize = 1): void {
  const rng = createRandom(seed);
  for (let i = skipRows * rowSize; i < values.length; i++)
    values[i] = values[i]! + (rng.next() * 2 - 1) * scale;
}

async function onnxProbabilities(bytes: Uint8Array, batch: string[], tokens?: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const grid = packTokenGrids(batch, encoder, tokens);
    const out = await session.run({
      ids: new ort.Tensor('int64', idsToInt64(grid.ids), [grid.size, grid.tokens, grid.perToken]),
    });
    return out.probabilities!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function typescriptProbabilities(model: TextCnnModel | GruModel): Float32Array {
  const packed = packTexts(texts, encoder);
  const probs = new Float32Array(texts.length * classes);
  for (let start = 0; start < texts.length; start += 250) {
    const batch = selectSequences(
      packed,
      Int32Array.from({ length: Math.min(250, texts.length - start) }, (_, i) => start + i),
    );
    const logits = model.forward(batch, null);
    softmaxRows(logits, batch.size, classes, probs.subarray(start * classes));
  }
  return probs;
}

async function expectParity(model: TextCnnModel | GruModel, bytes: Uint8Array): Promise<void> {
  const expected = typescriptProbabilities(model);
  let worst = 0;
  for (let start = 0; start < texts.length; start += 250) {
    const actual = await onnxProbabilities(bytes, texts.slice(start, start + 250));
    for (let i = 0; i < actual.length; i++)
      worst = Math.max(worst, Math.abs(actual[i]! - expected[start * classes + i]!));
  }
  expect(worst).toBeLessThan(1e-4);
  // The test only means something if the predictions are not all alike.
  const winners = new Set<number>();
  for (let b = 0; b < texts.length; b++) {
    const row = expected.subarray(b * classes, (b + 1) * classes);
    winners.add(row.indexOf(Math.max(...row)));
  }
  expect(winners.size).toBeGreaterThan(3);
}

describe('ONNX export of the sequence models', () => {
  it('generated inputs cover empty, short, long (cut) texts and padded grids', () => {
    const packed = packTexts(texts, encoder);
    const lengths = Array.from(
      { length: packed.size },
      (_, b) => packed.sequenceOffsets[b + 1]! - packed.sequenceOffsets[b]!,
    );
    expect(texts[0]).toBe('');
    expect(Math.min(...lengths)).toBe(1);
    expect(Math.max(...lengths)).toBe(encoder.maxTokens);
    expect(tokenCount(packed) / packed.size).toBeLessThan(encoder.maxTokens / 2);
  });

  it('Text-CNN: onnxruntime and the TypeScript forward agree within 1e-4 on 1,000 texts', async () => {
    const model = new TextCnnModel(
      {
        kind: 'textcnn',
        rows: encoder.buckets + 1,
        dim: 16,
        widths: [1, 2, 4],
        filters: 12,
        dropout: 0.3,
        classes,
      },
      createRandom(5),
    );
    perturb(model.convBias.value, 6, 0.5);
    perturb(model.bias.value, 7, 0.5);
    const bytes = exportTextCnn(model, { encoder: describeEncoder(encoder), classNames });
    await expectParity(model, bytes);
    // Serving may cut the grid to the longest text of a batch: same answers as the full-width grid.
    const short = texts.slice(1, 40).filter((text) => packTexts([text], encoder).sequenceOffsets[1]! <= 9);
    const narrow = await onnxProbabilities(bytes, short, 9);
    const wide = await onnxProbabilities(bytes, short);
    narrow.forEach((v, i) => expect(v).toBeCloseTo(wide[i]!, 6));
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(['ids']);
    expect(session.outputNames).toEqual(['logits', 'probabilities']);
    await session.release();
  });

  it('GRU: onnxruntime (GRU operator, sequence_lens) and the TypeScript forward agree within 1e-4', async () => {
    const model = new GruModel(
      { kind: 'gru', rows: encoder.buckets + 1, dim: 16, hidden: 12, dropout: 0.2, classes },
      createRandom(8),
    );
    perturb(model.inputBias.value, 9, 0.5);
    perturb(model.recurrentBias.value, 10, 0.5);
    perturb(model.bias.value, 11, 0.5);
    await expectParity(model, exportSequenceModel(model, { encoder: describeEncoder(encoder), classNames }));
  });

  it('records the input layout and refuses a class list of the wrong length', () => {
    const model = new GruModel(
      { kind: 'gru', rows: 11, dim: 4, hidden: 3, dropout: 0, classes: 2 },
      createRandom(1),
    );
    expect(() => exportGru(model, { encoder: describeEncoder(encoder), classNames: ['a'] })).toThrow(
      /class names/,
    );
    const bytes = exportGru(model, { encoder: describeEncoder(encoder), classNames: ['a', 'b'] });
    expect(Buffer.from(bytes).includes(Buffer.from(INPUT_LAYOUT))).toBe(true);
  });
});

/**
 * Text-CNN with subword token vectors: each token is the sum of its hashed feature embeddings (word, character
 * n-grams, bigram ending there, fastText style), convolutions of several widths run over the token sequence,
 * max-over-time pooling with ReLU gives one feature per filter, dropout, then a dense softmax head.
 *
 * Training works on packed sequences (no padding, see training/nn/sequence/packed.ts); the exported ONNX graph
 * takes the encoder's zero-padded grid and masks windows so padding never wins the pooling
 * (training/onnx/sequence.ts).
 */
import { Random } from '../../shared/math/random';
import { Parameter } from '../nn/parameter';
import {
  ConvPoolForward,
  ConvShape,
  convPoolBackward,
  convPoolForward,
  kernelRows,
  pooledSize,
} from '../nn/sequence/convPool';
import { applyMask, dropoutMask } from '../nn/sequence/dropout';
import { PackedTokens, tokenCount } from '../nn/sequence/packed';
import { subwordEmbeddingBackward, subwordEmbeddingForward } from '../nn/sequence/subwordEmbedding';
import { DenseHeadModel, TrainingContext, fillNormal, fillUniform } from './model';

export interface TextCnnConfig {
  kind: 'textcnn';
  /** Embedding rows: encoder buckets + 1 (row 0 is padding and stays zero). */
  rows: number;
  /** Token vector width. Default 64. */
  dim: number;
  /** Convolution kernel widths in tokens. Default [1, 2, 3]. */
  widths: number[];
  /** Filters per width. Default 128. */
  filters: number;
  /** Dropout rate on the pooled features (0 turns it off). Default 0.3. */
  dropout: number;
  /** Output classes. */
  classes: number;
}

export const DEFAULT_TEXTCNN: Readonly<Omit<TextCnnConfig, 'rows' | 'classes'>> = Object.freeze({
  kind: 'textcnn',
  dim: 64,
  widths: [1, 2, 3],
  filters: 128,
  dropout: 0.3,
});

export function validateTextCnnConfig(config: TextCnnConfig): void {
  const positive = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`textcnn ${name} must be a positive integer, got ${v}`);
  };
  positive('rows', config.rows);
  positive('dim', config.dim);
  positive('filters', config.filters);
  positive('classes', config.classes);
  if (config.widths.length === 0) throw new RangeError('textcnn needs at least one kernel width');
  config.widths.forEach((w) => positive('width', w));
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new RangeError(`textcnn dropout must be in [0, 1)`);
}

export class TextCnnModel extends DenseHeadModel<PackedTokens, TextCnnConfig> {
  readonly embedding: Parameter;
  readonly kernel: Parameter;
  readonly convBias: Parameter;
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly inputs: number;
  readonly shape: ConvShape;

  private last: {
    input: PackedTokens;
    tokens: Float32Array;
    conv: ConvPoolForward;
    mask: Float32Array | null;
    h: Float32Array;
  } | null = null;

  constructor(
    readonly config: TextCnnConfig,
    rng: Random,
  ) {
    super();
    validateTextCnnConfig(config);
    const { rows, dim, widths, filters, classes } = config;
    this.shape = { inputDim: dim, widths: [...widths], filters };
    this.inputs = pooledSize(this.shape);
    this.embedding = new Parameter('textcnn.embedding', [rows, dim], true);
    this.kernel = new Parameter('textcnn.kernel', [kernelRows(this.shape), dim]);
    this.convBias = new Parameter('textcnn.conv_bias', [widths.length, filters]);
    this.weight = new Parameter('textcnn.output.weight', [this.inputs, classes]);
    this.bias = new Parameter('textcnn.output.bias', [classes]);
    // Row 0 (padding) stays zero: fill from row 1 on, and training never touches it.
    fillUniform(this.embedding.value, rng, 1 / Math.sqrt(dim), dim);
    // He scaling over the window's fan-in (w·dim), shrunk by the ~8/3 that summing ~8 feature rows adds. Token
    // entries have variance ~8/(3·dim), so pre-activations start small (std ≈ sqrt(2/dim)) and Adam grows them.
    let offset = 0;
    for (const w of widths) {
      const size = w * filters * dim;
      fillNormal(this.kernel.value, rng, Math.sqrt(2 / (w * dim * (8 / 3))), offset, offset + size);
      offset += size;
    }
    fillNormal(this.weight.value, rng, Math.sqrt(1 / this.inputs));
  }

  parameters(): Parameter[] {
    return [this.embedding, this.kernel, this.convBias, this.weight, this.bias];
  }

  forwardBody(input: PackedTokens, training: TrainingContext | null): Float32Array {
    const tokens = subwordEmbeddingForward(this.embedding.value, this.config.dim, input);
    const conv = convPoolForward(
      tokens,
      input.sequenceOffsets,
      input.size,
      this.shape,
      this.kernel.value,
      this.convBias.value,
    );
    const h = Float32Array.from(conv.pooled);
    let mask: Float32Array | null = null;
    if (training && this.config.dropout > 0) {
      mask = dropoutMask(h.length, this.config.dropout, training.rng);
      applyMask(h, mask);
    }
    this.last = { input, tokens, conv, mask, h };
    return h;
  }

  backwardBody(dh: Float32Array): void {
    const last = this.last;
    if (!last) throw new Error('textcnn backward before forward');
    const { input, tokens, conv, mask } = last;
    const dPooled = Float32Array.from(dh.subarray(0, input.size * this.inputs));
    if (mask) applyMask(dPooled, mask);
    const dTokens = new Float32Array(tokenCount(input) * this.config.dim);
    convPoolBackward(
      tokens,
      input.sequenceOffsets,
      input.size,
      this.shape,
      this.kernel.value,
      conv,
      dPooled,
      dTokens,
      this.kernel.grad,
      this.convBias.grad,
    );
    subwordEmbeddingBackward(dTokens, this.config.dim, input, this.embedding.grad, this.embedding.touched!);
  }
}

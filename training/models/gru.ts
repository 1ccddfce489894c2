/**
 * GRU classifier with subword token vectors: tokens embed as in the Text-CNN (sum of word, character n-gram and
 * bigram rows), a one-directional GRU reads them, and its last state (after dropout) feeds a dense softmax head.
 * The recurrence uses the ONNX GRU layout and linear_before_reset = 1, so export copies weights unchanged.
 */
import { Random } from '../../shared/math/random';
import { Parameter } from '../nn/parameter';
import { applyMask, dropoutMask } from '../nn/sequence/dropout';
import { GruForward, GruParameters, gruBackward, gruForward } from '../nn/sequence/gru';
import { PackedTokens, tokenCount } from '../nn/sequence/packed';
import { subwordEmbeddingBackward, subwordEmbeddingForward } from '../nn/sequence/subwordEmbedding';
import { DenseHeadModel, TrainingContext, fillNormal, fillUniform } from './model';

export interface GruModelConfig {
  kind: 'gru';
  /** Embedding rows: encoder buckets + 1 (row 0 is padding and stays zero). */
  rows: number;
  /** Token vector width. Default 64. */
  dim: number;
  /** GRU state width. Default 128. */
  hidden: number;
  /** Dropout rate on the last state (0 turns it off). Default 0.2. */
  dropout: number;
  /** Output classes. */
  classes: number;
}

export const DEFAULT_GRU: Readonly<Omit<GruModelConfig, 'rows' | 'classes'>> = Object.freeze({
  kind: 'gru',
  dim: 64,
  hidden: 128,
  dropout: 0.2,
});

export function validateGruConfig(config: GruModelConfig): void {
  for (const key of ['rows', 'dim', 'hidden', 'classes'] as const) {
    const v = config[key];
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`gru ${key} must be a positive integer, got ${v}`);
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new RangeError(`gru dropout must be in [0, 1)`);
}

export class GruModel extends DenseHeadModel<PackedTokens, GruModelConfig> {
  readonly embedding: Parameter;
  readonly inputWeights: Parameter;
  readonly recurrentWeights: Parameter;
  readonly inputBias: Parameter;
  readonly recurrentBias: Parameter;
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly inputs: number;

  private last: {
    input: PackedTokens;
    tokens: Float32Array;
    gru: GruForward;
    mask: Float32Array | null;
    h: Float32Array;
  } | null = null;

  constructor(
    readonly config: GruModelConfig,
    rng: Random,
  ) {
    super();
    validateGruConfig(config);
    const { rows, dim, hidden, classes } = config;
    this.inputs = hidden;
    this.embedding = new Parameter('gru.embedding', [rows, dim], true);
    this.inputWeights = new Parameter('gru.W', [3 * hidden, dim]);
    this.recurrentWeights = new Parameter('gru.R', [3 * hidden, hidden]);
    this.inputBias = new Parameter('gru.Wb', [3 * hidden]);
    this.recurrentBias = new Parameter('gru.Rb', [3 * hidden]);
    this.weight = new Parameter('gru.output.weight', [hidden, classes]);
    this.bias = new Parameter('gru.output.bias', [classes]);
    fillUniform(this.embedding.value, rng, 1 / Math.sqrt(dim), dim);
    // Token entries have variance ~8/(3·dim) (sums of ~8 rows): this scale starts gate inputs small (std ≈
    // 1/sqrt(dim)), so gates begin near 0.5 and the state carries information from the first step.
    fillNormal(this.inputWeights.value, rng, Math.sqrt(1 / (dim * (8 / 3))));
    fillUniform(this.recurrentWeights.value, rng, 1 / Math.sqrt(hidden));
    fillNormal(this.weight.value, rng, Math.sqrt(1 / hidden));
  }

  parameters(): Parameter[] {
    return [
      this.embedding,
      this.inputWeights,
      this.recurrentWeights,
      this.inputBias,
      this.recurrentBias,
      this.weight,
      this.bias,
    ];
  }

  private gruParameters(): GruParameters {
    return {
      inputWeights: this.inputWeights.value,
      recurrentWeights: this.recurrentWeights.value,
      inputBias: this.inputBias.value,
      recurrentBias: this.recurrentBias.value,
    };
  }

  forwardBody(input: PackedTokens, training: TrainingContext | null): Float32Array {
    const { dim, hidden, dropout } = this.config;
    const tokens = subwordEmbeddingForward(this.embedding.value, dim, input);
    const gru = gruForward(tokens, input.sequenceOffsets, input.size, dim, hidden, this.gruParameters());
    const h = Float32Array.from(gru.last);
    let mask: Float32Array | null = null;
    if (training && dropout > 0) {
      mask = dropoutMask(h.length, dropout, training.rng);
      applyMask(h, mask);
    }
    this.last = { input, tokens, gru, mask, h };
    return h;
  }

  backwardBody(dh: Float32Array): void {
    const last = this.last;
    if (!last) throw new Error('gru backward before forward');
    const { dim, hidden } = this.config;
    const { input, tokens, gru, mask } = last;
    const dLast = Float32Array.from(dh.subarray(0, input.size * hidden));
    if (mask) applyMask(dLast, mask);
    const dTokens = new Float32Array(tokenCount(input) * dim);
    gruBackward(
      tokens,
      input.sequenceOffsets,
      input.size,
      dim,
      hidden,
      this.gruParameters(),
      gru,
      dLast,
      {
        inputWeights: this.inputWeights.grad,
        recurrentWeights: this.recurrentWeights.grad,
        inputBias: this.inputBias.grad,
        recurrentBias: this.recurrentBias.grad,
      },
      dTokens,
    );
    subwordEmbeddingBackward(dTokens, dim, input, this.embedding.grad, this.embedding.touched!);
  }
}

/**
 * Linear softmax model on hashed sparse features, the counterpart of the paper's linear SVC on tf-idf n-grams:
 * logits = b + (1/sqrt(n)) Σ_f W[id_f]. Binary term frequency with 1/sqrt(n) is the L2 normalisation of a
 * binary bag, the part of tf-idf that matters most for texts this short. The weight table is [rows, classes],
 * so `rows` must stay small (2^15 rows x 2,372 classes is 311 MB).
 */
import { Random } from '../../shared/math/random';
import { BagBatch } from '../../shared/text/encoder';
import { bagScales, embeddingBagBackward, embeddingBagForward } from '../nn/kernels';
import { Parameter } from '../nn/parameter';
import { Model, ensureBuffer } from './model';

export interface LinearModelConfig {
  kind: 'linear';
  /** Feature rows: encoder buckets + 1 (row 0 is padding). */
  rows: number;
  /** Output classes. */
  classes: number;
}

export class LinearModel implements Model<BagBatch, LinearModelConfig> {
  readonly weight: Parameter;
  readonly bias: Parameter;
  private logits: Float32Array = new Float32Array(0);
  private lastInput: BagBatch | null = null;
  private lastScale: Float32Array = new Float32Array(0);

  constructor(
    readonly config: LinearModelConfig,
    _rng?: Random,
  ) {
    // Zero start: the problem is convex, and zeros keep the padding row zero for free.
    this.weight = new Parameter('linear.weight', [config.rows, config.classes], true);
    this.bias = new Parameter('linear.bias', [config.classes]);
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias];
  }

  forward(input: BagBatch, _training: unknown): Float32Array {
    const { classes } = this.config;
    this.logits = ensureBuffer(this.logits, input.size * classes);
    const logits = this.logits.subarray(0, input.size * classes);
    const scale = bagScales(input.ids, input.size, input.width, 'sqrt');
    embeddingBagForward(input.ids, input.size, input.width, this.weight.value, classes, scale, logits);
    for (let b = 0; b < input.size; b++) {
      for (let c = 0; c < classes; c++)
        logits[b * classes + c] = logits[b * classes + c]! + this.bias.value[c]!;
    }
    this.lastInput = input;
    this.lastScale = scale;
    return logits;
  }

  backward(dLogits: Float32Array): void {
    const input = this.lastInput;
    if (!input) throw new Error('backward before forward');
    const { classes } = this.config;
    embeddingBagBackward(
      input.ids,
      input.size,
      input.width,
      classes,
      this.lastScale,
      dLogits,
      this.weight.grad,
      this.weight.touched!,
    );
    for (let b = 0; b < input.size; b++) {
      for (let c = 0; c < classes; c++) this.bias.grad[c] = this.bias.grad[c]! + dLogits[b * classes + c]!;
    }
  }
}

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
import {
  coefficientBagBackward,
  coefficientBagForward,
  unitFeatureWeights,
  validateFeatureWeights,
  weightedBagCoefficients,
} from './feature-weights';
import { Model, ensureBuffer } from './model';

export interface LinearModelConfig {
  kind: 'linear';
  /** Feature rows: encoder buckets + 1 (row 0 is padding). */
  rows: number;
  /** Output classes. */
  classes: number;
  /**
   * 'idf': rows weighted by fixed per-feature weights (setFeatureWeights) with L2 normalisation by those weights,
   * i.e. logits = b + Σ_f w_f W[id_f] / sqrt(Σ_f w_f²), a linear model on tf-idf features. Default 'none'.
   */
  featureWeighting?: 'none' | 'idf';
}

export class LinearModel implements Model<BagBatch, LinearModelConfig> {
  readonly weight: Parameter;
  readonly bias: Parameter;
  private logits: Float32Array = new Float32Array(0);
  private lastInput: BagBatch | null = null;
  private lastScale: Float32Array = new Float32Array(0);
  private lastCoefficients: Float32Array | null = null;
  /** Fixed pooling weights for featureWeighting 'idf' (not trained, not checkpointed), else null. */
  featureWeights: Float32Array | null;

  constructor(
    readonly config: LinearModelConfig,
    _rng?: Random,
  ) {
    // Zero start: the problem is convex, and zeros keep the padding row zero for free.
    this.weight = new Parameter('linear.weight', [config.rows, config.classes], true);
    this.bias = new Parameter('linear.bias', [config.classes]);
    this.featureWeights = config.featureWeighting === 'idf' ? unitFeatureWeights(config.rows) : null;
  }

  /** Adopts fixed per-feature weights (one per row, padding 0); only for featureWeighting 'idf'. */
  setFeatureWeights(weights: Float32Array): void {
    if (!this.featureWeights) throw new Error("feature weights need featureWeighting 'idf'");
    validateFeatureWeights(weights, this.config.rows);
    this.featureWeights.set(weights);
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias];
  }

  forward(input: BagBatch, _training: unknown): Float32Array {
    const { classes } = this.config;
    this.logits = ensureBuffer(this.logits, input.size * classes);
    const logits = this.logits.subarray(0, input.size * classes);
    if (this.featureWeights) {
      const coefficients = weightedBagCoefficients(
        input.ids,
        input.size,
        input.width,
        this.featureWeights,
        'sqrt',
      );
      this.lastCoefficients = coefficients;
      coefficientBagForward(
        input.ids,
        input.size,
        input.width,
        coefficients,
        this.weight.value,
        classes,
        logits,
      );
    } else {
      this.lastScale = bagScales(input.ids, input.size, input.width, 'sqrt');
      embeddingBagForward(
        input.ids,
        input.size,
        input.width,
        this.weight.value,
        classes,
        this.lastScale,
        logits,
      );
    }
    for (let b = 0; b < input.size; b++) {
      for (let c = 0; c < classes; c++)
        logits[b * classes + c] = logits[b * classes + c]! + this.bias.value[c]!;
    }
    this.lastInput = input;
    return logits;
  }

  backward(dLogits: Float32Array): void {
    const input = this.lastInput;
    if (!input) throw new Error('backward before forward');
    const { classes } = this.config;
    if (this.featureWeights) {
      coefficientBagBackward(
        input.ids,
        input.size,
        input.width,
        this.lastCoefficients!,
        classes,
        dLogits,
        this.weight.grad,
        this.weight.touched!,
      );
    } else {
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
    }
    for (let b = 0; b < input.size; b++) {
      for (let c = 0; c < classes; c++) this.bias.grad[c] = this.bias.grad[c]! + dLogits[b * classes + c]!;
    }
  }
}

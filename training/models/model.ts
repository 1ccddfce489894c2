/**
 * The contract every architecture meets, so the trainer, the ONNX exporters and later architectures (Text-CNN,
 * GRU) plug together: parameters in a fixed order, a synchronous reference forward/backward in TypeScript, and
 * optionally a dense softmax head that the trainer may run on a faster engine (onnxruntime) instead.
 */
import { Random } from '../../shared/math/random';
import { denseBackward, denseForward } from '../nn/kernels';
import { Parameter } from '../nn/parameter';

/** What a forward pass in training mode may use: the seeded RNG (dropout). Null means inference. */
export interface TrainingContext {
  readonly rng: Random;
}

export interface Model<
  Input,
  Config extends { kind: string; classes: number } = { kind: string; classes: number },
> {
  /** Serialisable settings that, with the parameters, fully define the model. */
  readonly config: Config;
  /** Parameters in a fixed order (checkpoints and exporters rely on it). */
  parameters(): Parameter[];
  /** Logits [batch, classes]. Caches what backward needs; the returned array is reused by the next call. */
  forward(input: Input, training: TrainingContext | null): Float32Array;
  /** Accumulates parameter gradients from dLoss/dLogits of the last forward. */
  backward(dLogits: Float32Array): void;
  /** Present when the model ends in `logits = h · W + b`; lets the trainer run that part elsewhere. */
  readonly head?: DenseHead<Input>;
}

export interface DenseHead<Input> {
  /** Width of h. */
  readonly inputs: number;
  /** W [inputs, classes]. */
  readonly weight: Parameter;
  /** b [classes]. */
  readonly bias: Parameter;
  /** h [batch, inputs] (dropout applied in training). */
  forwardBody(input: Input, training: TrainingContext | null): Float32Array;
  /** Backpropagates dLoss/dh through the body of the last forwardBody. */
  backwardBody(dh: Float32Array): void;
}

/** Number of examples in a model input; every input type carries `size`. */
export interface Sized {
  readonly size: number;
}

/** Initialises `values` with N(0, std²) from the seeded generator. */
export function fillNormal(
  values: Float32Array,
  rng: Random,
  std: number,
  from = 0,
  to = values.length,
): void {
  for (let i = from; i < to; i++) values[i] = rng.normal() * std;
}

/** Initialises `values` uniformly in [-limit, limit). */
export function fillUniform(
  values: Float32Array,
  rng: Random,
  limit: number,
  from = 0,
  to = values.length,
): void {
  for (let i = from; i < to; i++) values[i] = (2 * rng.next() - 1) * limit;
}

/** Grows a cached buffer only when a larger batch arrives. */
export function ensureBuffer(buffer: Float32Array, size: number): Float32Array {
  return buffer.length >= size ? buffer : new Float32Array(size);
}

/** Inverted dropout in place; returns the keep mask scaled by 1/(1-rate) for the backward pass. */
export function applyDropout(
  values: Float32Array,
  n: number,
  rate: number,
  rng: Random,
  mask: Float32Array,
): void {
  const keep = 1 / (1 - rate);
  for (let i = 0; i < n; i++) {
    const m = rng.next() < rate ? 0 : keep;
    mask[i] = m;
    values[i] = values[i]! * m;
  }
}

/**
 * A model whose last layer is the dense softmax head `logits = h · W + b`: subclasses define the body
 * (`forwardBody` / `backwardBody`), and the head's reference forward and backward live here once. The trainer may
 * run the same head on onnxruntime instead, through `head`.
 */
export abstract class DenseHeadModel<Input extends Sized, Config extends { kind: string; classes: number }>
  implements Model<Input, Config>, DenseHead<Input>
{
  abstract readonly config: Config;
  abstract readonly inputs: number;
  abstract readonly weight: Parameter;
  abstract readonly bias: Parameter;
  readonly head: DenseHead<Input> = this;
  #logits: Float32Array = new Float32Array(0);
  #dh: Float32Array = new Float32Array(0);
  #last: { h: Float32Array; batch: number } | null = null;

  abstract parameters(): Parameter[];
  abstract forwardBody(input: Input, training: TrainingContext | null): Float32Array;
  abstract backwardBody(dh: Float32Array): void;

  forward(input: Input, training: TrainingContext | null): Float32Array {
    const h = this.forwardBody(input, training);
    const size = input.size * this.config.classes;
    this.#logits = ensureBuffer(this.#logits, size);
    const logits = this.#logits.subarray(0, size);
    denseForward(h, input.size, this.inputs, this.weight.value, this.config.classes, this.bias.value, logits);
    this.#last = { h, batch: input.size };
    return logits;
  }

  backward(dLogits: Float32Array): void {
    if (!this.#last) throw new Error(`${this.config.kind} backward before forward`);
    const { h, batch } = this.#last;
    this.#dh = ensureBuffer(this.#dh, batch * this.inputs);
    const dh = this.#dh.subarray(0, batch * this.inputs);
    denseBackward(
      h,
      batch,
      this.inputs,
      this.weight.value,
      this.config.classes,
      dLogits,
      this.weight.grad,
      this.bias.grad,
      dh,
    );
    this.backwardBody(dh);
  }
}

/**
 * Inverted dropout: kept units are scaled by 1 / (1 - rate) during training so inference needs no rescaling
 * (the serving graph has no dropout node at all).
 */
import type { Random } from '../../../shared/math/random';

/** A mask of 0 and 1 / (1 - rate) drawn from `rng`; all ones when rate is 0. */
export function dropoutMask(length: number, rate: number, rng: Random): Float32Array {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  const mask = new Float32Array(length);
  if (rate === 0) return mask.fill(1);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < length; i++) mask[i] = rng.next() < rate ? 0 : keep;
  return mask;
}

/** values *= mask, in place: the forward pass, and the backward pass on the incoming gradient alike. */
export function applyMask(values: Float32Array, mask: Float32Array): void {
  if (values.length !== mask.length) throw new RangeError(`mask length ${mask.length} != ${values.length}`);
  for (let i = 0; i < values.length; i++) values[i] = values[i]! * mask[i]!;
}

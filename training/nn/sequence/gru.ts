/**
 * A one-directional GRU over packed sequences, in the ONNX GRU operator's own layout so export is a copy:
 * gates in the order z (update), r (reset), h (candidate); W [3H × D], R [3H × H], biases Wb and Rb [3H]; and
 * linear_before_reset = 1, i.e. the reset gate multiplies (R_h · h + Rb_h) rather than h:
 *   z = σ(W_z x + Wb_z + R_z h + Rb_z)
 *   r = σ(W_r x + Wb_r + R_r h + Rb_r)
 *   n = tanh(W_h x + Wb_h + r ⊙ (R_h h + Rb_h))
 *   h' = (1 - z) ⊙ n + z ⊙ h
 * The sequence's representation is its last state (ONNX Y_h with sequence_lens). The initial state is zero.
 */
import { multiplyTransposedSimd } from './simd';

export interface GruParameters {
  /** [3H × D] input weights, gates z, r, h. */
  readonly inputWeights: Float32Array;
  /** [3H × H] recurrent weights. */
  readonly recurrentWeights: Float32Array;
  /** [3H] input bias. */
  readonly inputBias: Float32Array;
  /** [3H] recurrent bias. */
  readonly recurrentBias: Float32Array;
}

export interface GruForward {
  /** [size × H] last state of each sequence. */
  readonly last: Float32Array;
  /** [tokens × H] state after each token. */
  readonly states: Float32Array;
  /** [tokens × H] gates and the recurrent candidate term, kept for backward. */
  readonly update: Float32Array;
  readonly reset: Float32Array;
  readonly candidate: Float32Array;
  readonly recurrentCandidate: Float32Array;
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/**
 * Sequences by decreasing length (ties by index), so at every time step the sequences still running are a
 * prefix of this order and one matrix product serves them all.
 */
function lockstepOrder(
  sequenceOffsets: Int32Array,
  size: number,
): { order: Int32Array; lengths: Int32Array } {
  const lengths = Int32Array.from({ length: size }, (_, b) => sequenceOffsets[b + 1]! - sequenceOffsets[b]!);
  const order = Int32Array.from({ length: size }, (_, b) => b).sort(
    (a, b) => lengths[b]! - lengths[a]! || a - b,
  );
  return { order, lengths };
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  }
  return out;
}

export function gruForward(
  x: Float32Array,
  sequenceOffsets: Int32Array,
  size: number,
  inputDim: number,
  hidden: number,
  params: GruParameters,
): GruForward {
  const tokens = sequenceOffsets[size]!;
  const g3 = 3 * hidden;
  const xw = new Float32Array(tokens * g3);
  multiplyTransposedSimd(x, params.inputWeights, xw, tokens, inputDim, g3, params.inputBias);
  const states = new Float32Array(tokens * hidden);
  const update = new Float32Array(tokens * hidden);
  const reset = new Float32Array(tokens * hidden);
  const candidate = new Float32Array(tokens * hidden);
  const recurrentCandidate = new Float32Array(tokens * hidden);
  const last = new Float32Array(size * hidden);
  const { order, lengths } = lockstepOrder(sequenceOffsets, size);
  const longest = size > 0 ? lengths[order[0]!]! : 0;
  // current[k] is the state of sequence order[k]; rh[k] = R · current[k] + Rb.
  const current = new Float32Array(size * hidden);
  const rh = new Float32Array(size * g3);
  let active = size;
  for (let step = 0; step < longest; step++) {
    while (active > 0 && lengths[order[active - 1]!]! <= step) active--;
    multiplyTransposedSimd(current, params.recurrentWeights, rh, active, hidden, g3, params.recurrentBias);
    for (let k = 0; k < active; k++) {
      const t = sequenceOffsets[order[k]!]! + step;
      const xo = t * g3;
      const ro = k * g3;
      const o = t * hidden;
      const co = k * hidden;
      for (let j = 0; j < hidden; j++) {
        const z = sigmoid(xw[xo + j]! + rh[ro + j]!);
        const r = sigmoid(xw[xo + hidden + j]! + rh[ro + hidden + j]!);
        const rc = rh[ro + 2 * hidden + j]!;
        const n = Math.tanh(xw[xo + 2 * hidden + j]! + r * rc);
        update[o + j] = z;
        reset[o + j] = r;
        candidate[o + j] = n;
        recurrentCandidate[o + j] = rc;
        const h = (1 - z) * n + z * current[co + j]!;
        states[o + j] = h;
        current[co + j] = h;
      }
    }
  }
  for (let b = 0; b < size; b++) {
    const end = sequenceOffsets[b + 1]!;
    last.set(states.subarray((end - 1) * hidden, end * hidden), b * hidden);
  }
  return { last, states, update, reset, candidate, recurrentCandidate };
}

/** Gradients of GruParameters; accumulated into (callers zero them per batch). */
export interface GruGradients {
  readonly inputWeights: Float32Array;
  readonly recurrentWeights: Float32Array;
  readonly inputBias: Float32Array;
  readonly recurrentBias: Float32Array;
}

/** Backpropagation through time from d(loss)/d(last states). Accumulates into grads and dX [tokens × D]. */
export function gruBackward(
  x: Float32Array,
  sequenceOffsets: Int32Array,
  size: number,
  inputDim: number,
  hidden: number,
  params: GruParameters,
  forward: GruForward,
  dLast: Float32Array,
  grads: GruGradients,
  dX: Float32Array,
): void {
  const tokens = sequenceOffsets[size]!;
  const g3 = 3 * hidden;
  const { states, update, reset, candidate, recurrentCandidate } = forward;
  const { order, lengths } = lockstepOrder(sequenceOffsets, size);
  const longest = size > 0 ? lengths[order[0]!]! : 0;
  // Per token: d(pre-activations of the input projection) and of the recurrent projection, and the state the
  // token started from; weight gradients come from these in three products after the time loop.
  const dxw = new Float32Array(tokens * g3);
  const dRhAll = new Float32Array(tokens * g3);
  const previous = new Float32Array(tokens * hidden);
  for (let b = 0; b < size; b++) {
    const first = sequenceOffsets[b]!;
    previous.set(
      states.subarray(first * hidden, (sequenceOffsets[b + 1]! - 1) * hidden),
      (first + 1) * hidden,
    );
  }
  // dh[k]: gradient reaching the current state of sequence order[k]; it waits there until the sequence's last step.
  const dh = new Float32Array(size * hidden);
  for (let k = 0; k < size; k++)
    dh.set(dLast.subarray(order[k]! * hidden, (order[k]! + 1) * hidden), k * hidden);
  const recurrentTransposed = transpose(params.recurrentWeights, g3, hidden);
  const dRh = new Float32Array(size * g3);
  const throughR = new Float32Array(size * hidden);
  let active = 0;
  for (let step = longest - 1; step >= 0; step--) {
    while (active < size && lengths[order[active]!]! > step) active++;
    for (let k = 0; k < active; k++) {
      const t = sequenceOffsets[order[k]!]! + step;
      const o = t * hidden;
      const xo = t * g3;
      const ro = k * g3;
      const ho = k * hidden;
      for (let j = 0; j < hidden; j++) {
        const z = update[o + j]!;
        const r = reset[o + j]!;
        const n = candidate[o + j]!;
        const g = dh[ho + j]!;
        const dn = g * (1 - z);
        const dz = g * (previous[o + j]! - n);
        dh[ho + j] = g * z;
        const dan = dn * (1 - n * n);
        const dr = dan * recurrentCandidate[o + j]!;
        const daz = dz * z * (1 - z);
        const dar = dr * r * (1 - r);
        dxw[xo + j] = daz;
        dxw[xo + hidden + j] = dar;
        dxw[xo + 2 * hidden + j] = dan;
        dRh[ro + j] = daz;
        dRh[ro + hidden + j] = dar;
        dRh[ro + 2 * hidden + j] = dan * r;
      }
      dRhAll.set(dRh.subarray(ro, ro + g3), xo);
    }
    multiplyTransposedSimd(dRh, recurrentTransposed, throughR, active, g3, hidden);
    for (let i = 0; i < active * hidden; i++) dh[i] = dh[i]! + throughR[i]!;
  }
  const addInto = (target: Float32Array, source: Float32Array): void => {
    for (let i = 0; i < target.length; i++) target[i] = target[i]! + source[i]!;
  };
  const product = new Float32Array(g3 * Math.max(hidden, inputDim));
  // dR = Σ_t dRh_t ⊗ h_{t-1}; dW = Σ_t dxw_t ⊗ x_t; as products over the token axis.
  const dRhByGate = transpose(dRhAll, tokens, g3);
  multiplyTransposedSimd(dRhByGate, transpose(previous, tokens, hidden), product, g3, tokens, hidden);
  addInto(grads.recurrentWeights, product.subarray(0, g3 * hidden));
  const dxwByGate = transpose(dxw, tokens, g3);
  multiplyTransposedSimd(dxwByGate, transpose(x, tokens, inputDim), product, g3, tokens, inputDim);
  addInto(grads.inputWeights, product.subarray(0, g3 * inputDim));
  for (let g = 0; g < g3; g++) {
    let sumInput = 0;
    let sumRecurrent = 0;
    for (let t = 0; t < tokens; t++) {
      sumInput += dxwByGate[g * tokens + t]!;
      sumRecurrent += dRhByGate[g * tokens + t]!;
    }
    grads.inputBias[g] = grads.inputBias[g]! + sumInput;
    grads.recurrentBias[g] = grads.recurrentBias[g]! + sumRecurrent;
  }
  const throughW = new Float32Array(tokens * inputDim);
  multiplyTransposedSimd(dxw, transpose(params.inputWeights, g3, inputDim), throughW, tokens, g3, inputDim);
  addInto(dX.subarray(0, tokens * inputDim), throughW);
}

import { Parameter } from './parameter';

export interface AdamConfig {
  kind: 'adam';
  /** Default 0.9. */
  beta1: number;
  /** Default 0.999. */
  beta2: number;
  /** Default 1e-8. */
  epsilon: number;
  /** Decoupled weight decay (AdamW) per step, multiplied by the learning rate. Default 0. */
  weightDecay: number;
}

export interface SgdConfig {
  kind: 'sgd';
  /** Decoupled weight decay per step, multiplied by the learning rate. Default 0. */
  weightDecay: number;
}

export type OptimizerConfig = AdamConfig | SgdConfig;

export const DEFAULT_ADAM: Readonly<AdamConfig> = Object.freeze({
  kind: 'adam',
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0,
});

/** Serialisable optimiser state: step count and per-parameter moment buffers, in parameter order. */
export interface OptimizerState {
  step: number;
  slots: Float32Array[];
}

export interface Optimizer {
  readonly config: OptimizerConfig;
  /** Applies the current gradients with learning rate `lr`, then zeroes them. */
  step(lr: number): void;
  state(): OptimizerState;
  restore(state: OptimizerState): void;
}

/**
 * Adam / AdamW. Sparse parameters get "lazy" updates: only rows with gradient move and decay, which is what makes
 * a large hashed embedding table affordable (as in fastText and PyTorch's SparseAdam).
 */
export function createOptimizer(parameters: readonly Parameter[], config: OptimizerConfig): Optimizer {
  if (config.kind === 'sgd') {
    return {
      config,
      step(lr) {
        for (const p of parameters) {
          const decay = 1 - lr * config.weightDecay;
          p.forEachGradRange((start, end) => {
            for (let i = start; i < end; i++) p.value[i] = p.value[i]! * decay - lr * p.grad[i]!;
          });
          p.zeroGrad();
        }
      },
      state: () => ({ step: 0, slots: [] }),
      restore() {},
    };
  }
  const m = parameters.map((p) => new Float32Array(p.size));
  const v = parameters.map((p) => new Float32Array(p.size));
  let t = 0;
  return {
    config,
    step(lr) {
      t++;
      const { beta1, beta2, epsilon, weightDecay } = config;
      const correction1 = 1 - Math.pow(beta1, t);
      const correction2 = 1 - Math.pow(beta2, t);
      const stepSize = (lr * Math.sqrt(correction2)) / correction1;
      const decay = 1 - lr * weightDecay;
      parameters.forEach((p, index) => {
        const mp = m[index]!;
        const vp = v[index]!;
        const value = p.value;
        const grad = p.grad;
        const update = (start: number, end: number): void => {
          for (let i = start; i < end; i++) {
            const g = grad[i]!;
            const mi = beta1 * mp[i]! + (1 - beta1) * g;
            const vi = beta2 * vp[i]! + (1 - beta2) * g * g;
            mp[i] = mi;
            vp[i] = vi;
            value[i] = value[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) + epsilon);
          }
        };
        if (p.touched) {
          const r = p.rowSize;
          for (const row of p.touched.rowsView()) update(row * r, row * r + r);
        } else {
          update(0, p.size);
        }
        p.zeroGrad();
      });
    },
    state: () => ({ step: t, slots: [...m, ...v] }),
    restore(state) {
      if (state.slots.length !== 2 * parameters.length) {
        throw new Error(`optimizer state has ${state.slots.length} slots, expected ${2 * parameters.length}`);
      }
      t = state.step;
      parameters.forEach((p, index) => {
        const ms = state.slots[index]!;
        const vs = state.slots[parameters.length + index]!;
        if (ms.length !== p.size || vs.length !== p.size)
          throw new Error(`optimizer state size mismatch for ${p.name}`);
        m[index]!.set(ms);
        v[index]!.set(vs);
      });
    },
  };
}

/**
 * Hyper-parameter search spaces and trials as plain serialisable objects, so a durable orchestration can fan trials
 * out to parallel activities and feed their results back into the optimiser.
 */
import type { Random } from '../../shared/math/random';

export type ParamSpec =
  /** Float in [low, high]; with `log`, uniform in log space (learning rates, regularisation). */
  | { readonly type: 'float'; readonly low: number; readonly high: number; readonly log?: boolean }
  /** Integer in [low, high] inclusive; with `log`, uniform in log space (layer widths). */
  | { readonly type: 'int'; readonly low: number; readonly high: number; readonly log?: boolean }
  | { readonly type: 'categorical'; readonly choices: readonly ParamValue[] };

export type ParamValue = number | string | boolean;
export type SearchSpace = Readonly<Record<string, ParamSpec>>;
export type Params = Record<string, ParamValue>;

/** One trial to run: what to train with and which seed to train it with. */
export interface Trial {
  readonly id: number;
  readonly params: Params;
  readonly seed: number;
}

/** A trial's outcome. A non-finite score (a failed or diverged run) ranks below every finite score. */
export interface TrialResult {
  readonly id: number;
  readonly score: number;
  readonly metrics?: Readonly<Record<string, number>>;
}

export interface CompletedTrial {
  readonly trial: Trial;
  readonly result: TrialResult;
}

/** Checks bounds and choices up front, so a bad space fails when tuning starts rather than mid-run. */
export function validateSpace(space: SearchSpace): void {
  const names = Object.keys(space);
  if (names.length === 0) throw new Error('search space is empty');
  for (const name of names) {
    const spec = space[name]!;
    if (spec.type === 'categorical') {
      if (spec.choices.length === 0) throw new Error(`parameter ${name}: no choices`);
      continue;
    }
    if (!(Number.isFinite(spec.low) && Number.isFinite(spec.high) && spec.low <= spec.high)) {
      throw new Error(`parameter ${name}: needs finite low ≤ high`);
    }
    if (spec.log && spec.low <= 0) throw new Error(`parameter ${name}: log scale needs low > 0`);
    if (spec.type === 'int' && !(Number.isInteger(spec.low) && Number.isInteger(spec.high))) {
      throw new Error(`parameter ${name}: int bounds must be integers`);
    }
  }
}

/** Bounds of a numeric parameter in the space the optimiser works in (log for log-scale parameters). */
export function internalBounds(spec: ParamSpec & { type: 'float' | 'int' }): [number, number] {
  // Integers get half a step beyond each bound so that the end values are as likely as the inner ones.
  const pad = spec.type === 'int' ? 0.5 : 0;
  const low = spec.low - pad;
  const high = spec.high + pad;
  return spec.log ? [Math.log(Math.max(low, spec.low / 2)), Math.log(high)] : [low, high];
}

export function toInternal(spec: ParamSpec & { type: 'float' | 'int' }, value: number): number {
  return spec.log ? Math.log(value) : value;
}

export function fromInternal(spec: ParamSpec & { type: 'float' | 'int' }, internal: number): number {
  const value = spec.log ? Math.exp(internal) : internal;
  const rounded = spec.type === 'int' ? Math.round(value) : value;
  return Math.min(spec.high, Math.max(spec.low, rounded));
}

/** A uniform draw from the space (in internal coordinates for numeric parameters). */
export function sampleUniform(space: SearchSpace, rng: Random): Params {
  const params: Params = {};
  for (const [name, spec] of Object.entries(space)) {
    if (spec.type === 'categorical') {
      params[name] = spec.choices[rng.int(spec.choices.length)]!;
    } else {
      const [low, high] = internalBounds(spec);
      params[name] = fromInternal(spec, low + rng.next() * (high - low));
    }
  }
  return params;
}

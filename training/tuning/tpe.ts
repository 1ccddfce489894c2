/**
 * Tree-structured Parzen Estimator (Bergstra et al., 2011), univariate like Hyperopt's and Optuna's default:
 * completed trials are split at the gamma quantile of their scores into good and bad; each parameter gets a
 * Parzen density l(x) over the good trials and g(x) over the bad ones; candidates are drawn from l and the one with
 * the largest l(x)/g(x) (which maximises expected improvement under this model) becomes the next trial.
 */
import { createRandom, type Random } from '../../shared/math/random';
import {
  fromInternal,
  internalBounds,
  sampleUniform,
  toInternal,
  validateSpace,
  type CompletedTrial,
  type ParamSpec,
  type Params,
  type SearchSpace,
  type Trial,
} from './space';

export interface TpeOptions {
  /** Trials drawn uniformly at random before TPE takes over. Default 10. */
  nStartup?: number;
  /** Share of completed trials that form the "good" density l(x). Default 0.25. */
  gamma?: number;
  /** Candidates drawn from l(x) per suggestion. Default 24. */
  nCandidates?: number;
  /** Whether a larger score is better. Default 'maximize'. */
  direction?: 'maximize' | 'minimize';
  /** Weight of the flat prior component in each density (keeps exploring). Default 1. */
  priorWeight?: number;
}

type NumericSpec = ParamSpec & { type: 'float' | 'int' };

/** Completed trials, best first; non-finite scores last. */
export function rankTrials(
  history: readonly CompletedTrial[],
  direction: 'maximize' | 'minimize' = 'maximize',
): CompletedTrial[] {
  const sign = direction === 'maximize' ? -1 : 1;
  const key = (t: CompletedTrial): number =>
    Number.isFinite(t.result.score) ? sign * t.result.score : Infinity;
  return [...history].sort((a, b) => key(a) - key(b) || a.trial.id - b.trial.id);
}

/** The next trial's parameters given the completed trials. Deterministic for a given rng state. */
export function suggest(
  space: SearchSpace,
  history: readonly CompletedTrial[],
  rng: Random,
  options: TpeOptions = {},
): Params {
  validateSpace(space);
  const nStartup = options.nStartup ?? 10;
  const gamma = options.gamma ?? 0.25;
  const nCandidates = options.nCandidates ?? 24;
  const priorWeight = options.priorWeight ?? 1;
  if (history.length < Math.max(nStartup, 2)) return sampleUniform(space, rng);
  const ranked = rankTrials(history, options.direction);
  const nGood = Math.min(ranked.length - 1, Math.max(1, Math.ceil(gamma * ranked.length)));
  const good = ranked.slice(0, nGood);
  const bad = ranked.slice(nGood);

  const models = Object.entries(space).map(([name, spec]) => {
    const values = (trials: CompletedTrial[]): ParamObservation[] =>
      trials.map((t) => t.trial.params[name]).filter((v) => v !== undefined);
    return spec.type === 'categorical'
      ? new CategoricalParzen(spec.choices, values(good), values(bad), priorWeight)
      : new NumericParzen(spec, values(good) as number[], values(bad) as number[], priorWeight);
  });
  const names = Object.keys(space);
  let best: Params | undefined;
  let bestScore = -Infinity;
  for (let k = 0; k < nCandidates; k++) {
    const candidate: Params = {};
    let score = 0;
    models.forEach((model, j) => {
      const { value, logRatio } = model.sample(rng);
      candidate[names[j]!] = value;
      score += logRatio;
    });
    if (best === undefined || score > bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best!;
}

type ParamObservation = Params[string];

interface ParamModel {
  /** A draw from l(x) and its log l(x) − log g(x). */
  sample(rng: Random): { value: ParamObservation; logRatio: number };
}

class CategoricalParzen implements ParamModel {
  private readonly good: Float64Array;
  private readonly bad: Float64Array;

  constructor(
    private readonly choices: readonly ParamObservation[],
    good: ParamObservation[],
    bad: ParamObservation[],
    priorWeight: number,
  ) {
    this.good = this.histogram(good, priorWeight);
    this.bad = this.histogram(bad, priorWeight);
  }

  private histogram(values: ParamObservation[], priorWeight: number): Float64Array {
    const weights = new Float64Array(this.choices.length).fill(priorWeight);
    for (const value of values) {
      const index = this.choices.indexOf(value);
      // Values from an older version of the space carry no information about the current choices.
      if (index >= 0) weights[index]!++;
    }
    const total = weights.reduce((a, b) => a + b, 0);
    return weights.map((w) => w / total);
  }

  sample(rng: Random): { value: ParamObservation; logRatio: number } {
    let u = rng.next();
    let index = 0;
    while (index < this.good.length - 1 && u >= this.good[index]!) u -= this.good[index++]!;
    return {
      value: this.choices[index]!,
      logRatio: Math.log(this.good[index]!) - Math.log(this.bad[index]!),
    };
  }
}

/** Truncated-Gaussian mixture over the internal interval, one component per observation plus a flat prior. */
class NumericParzen implements ParamModel {
  private readonly low: number;
  private readonly high: number;
  private readonly good: Mixture;
  private readonly bad: Mixture;

  constructor(
    private readonly spec: NumericSpec,
    good: number[],
    bad: number[],
    priorWeight: number,
  ) {
    [this.low, this.high] = internalBounds(spec);
    const inside = (values: number[]): number[] =>
      values
        .filter((v) => typeof v === 'number' && v >= spec.low && v <= spec.high)
        .map((v) => toInternal(spec, v));
    this.good = this.mixture(inside(good), priorWeight);
    this.bad = this.mixture(inside(bad), priorWeight);
  }

  private mixture(points: number[], priorWeight: number): Mixture {
    const range = this.high - this.low || 1;
    const sorted = [...points].sort((a, b) => a - b);
    const minSigma = range / Math.min(100, 1 + sorted.length);
    const mus = [...sorted, (this.low + this.high) / 2];
    // Bandwidth per point: the larger gap to its neighbours (bounds included), as in Hyperopt, clipped so that no
    // component collapses onto a point or grows wider than the whole interval.
    const sigmas = sorted.map((x, i) => {
      const left = x - (i > 0 ? sorted[i - 1]! : this.low);
      const right = (i < sorted.length - 1 ? sorted[i + 1]! : this.high) - x;
      return Math.min(range, Math.max(minSigma, left, right));
    });
    sigmas.push(range);
    const weights = [...sorted.map(() => 1), priorWeight];
    const total = weights.reduce((a, b) => a + b, 0);
    const mass = mus.map(
      (mu, i) => normalCdf((this.high - mu) / sigmas[i]!) - normalCdf((this.low - mu) / sigmas[i]!),
    );
    return { mus, sigmas, weights: weights.map((w) => w / total), mass };
  }

  private logDensity(mixture: Mixture, x: number): number {
    let density = 0;
    for (let i = 0; i < mixture.mus.length; i++) {
      const sigma = mixture.sigmas[i]!;
      const z = (x - mixture.mus[i]!) / sigma;
      density +=
        (mixture.weights[i]! * Math.exp(-0.5 * z * z)) / (sigma * Math.sqrt(2 * Math.PI) * mixture.mass[i]!);
    }
    return Math.log(Math.max(density, 1e-300));
  }

  sample(rng: Random): { value: ParamObservation; logRatio: number } {
    const { mus, sigmas, weights } = this.good;
    let u = rng.next();
    let component = 0;
    while (component < weights.length - 1 && u >= weights[component]!) u -= weights[component++]!;
    let x = Number.NaN;
    // Rejection keeps the draw inside the interval; the cap only matters for components far outside it.
    for (let attempt = 0; attempt < 100 && !(x >= this.low && x <= this.high); attempt++) {
      x = mus[component]! + sigmas[component]! * rng.normal();
    }
    if (!(x >= this.low && x <= this.high)) x = Math.min(this.high, Math.max(this.low, mus[component]!));
    const value = fromInternal(this.spec, x);
    // Integers are scored where they will be evaluated, so two candidates that round alike score alike.
    const at =
      this.spec.type === 'int' ? Math.min(this.high, Math.max(this.low, toInternal(this.spec, value))) : x;
    return { value, logRatio: this.logDensity(this.good, at) - this.logDensity(this.bad, at) };
  }
}

interface Mixture {
  mus: number[];
  sigmas: number[];
  weights: number[];
  /** Probability mass of each component inside the interval (truncation normaliser). */
  mass: number[];
}

/** Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Mixes two integers into a 32-bit seed (murmur3 finaliser), so trial seeds differ even for adjacent ids. */
export function mixSeed(seed: number, salt: number): number {
  let h = (seed ^ Math.imul(salt + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The next `count` trials, as a pure function of (space, history, seed, first id): an orchestrator can call it on
 * every replay and get the same trials. Trials of one batch share the history but draw from different streams.
 */
export function proposeTrials(
  space: SearchSpace,
  history: readonly CompletedTrial[],
  count: number,
  seed: number,
  firstId: number,
  options: TpeOptions = {},
): Trial[] {
  return Array.from({ length: count }, (_, k) => {
    const id = firstId + k;
    const rng = createRandom(mixSeed(seed, id));
    return { id, params: suggest(space, history, rng, options), seed: mixSeed(seed ^ 0x5bd1e995, id) };
  });
}

export interface RunTuningOptions extends TpeOptions {
  readonly space: SearchSpace;
  /** Trials in total. */
  readonly budget: number;
  /** Trials run at the same time (one batch shares the same history). Default 1. */
  readonly parallelism?: number;
  /** Default 0. */
  readonly seed?: number;
}

export interface TuningOutcome {
  /** Best completed trial (by score and direction); undefined only when every score was non-finite. */
  readonly best: CompletedTrial | undefined;
  /** Every completed trial, in id order. */
  readonly history: CompletedTrial[];
}

/** Local tuning loop: batches of `parallelism` trials, each batch suggested from all results so far. */
export async function runTuning(
  options: RunTuningOptions,
  objective: (trial: Trial) => Promise<{ score: number; metrics?: Record<string, number> }>,
): Promise<TuningOutcome> {
  const parallelism = Math.max(1, options.parallelism ?? 1);
  const seed = options.seed ?? 0;
  const history: CompletedTrial[] = [];
  while (history.length < options.budget) {
    const count = Math.min(parallelism, options.budget - history.length);
    const trials = proposeTrials(options.space, history, count, seed, history.length, options);
    const results = await Promise.all(trials.map((trial) => objective(trial)));
    trials.forEach((trial, k) => history.push({ trial, result: { id: trial.id, ...results[k]! } }));
  }
  const best = rankTrials(history, options.direction)[0];
  return { best: best && Number.isFinite(best.result.score) ? best : undefined, history };
}

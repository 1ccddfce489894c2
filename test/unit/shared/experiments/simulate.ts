/**
 * Experiment simulator for the decision tests: feedback drawn from known true accuracies, the decision taken after
 * every batch exactly as the timer would, stopping at the first promote or reject.
 */
import { createRandom, type Random } from '../../../../shared/math/random';
import {
  decideExperiment,
  type DecisionPolicy,
  type ExperimentAction,
} from '../../../../shared/experiments/decision';
import {
  emptyShadowState,
  emptySplitState,
  HS_LEVELS,
  latencyBucketIndex,
  type OperationalCounts,
  type PairedCounts,
} from '../../../../shared/experiments/state';

/** What is true about one model, unknown to the decision. */
export interface ModelTruth {
  /** HS6 accuracy. */
  readonly accuracy: number;
  /** Median latency; latencies are log-normal with σ = 0.5 (p95 ≈ 2.3 × median). */
  readonly medianLatencyMs: number;
  readonly errorRate: number;
  readonly reviewRate: number;
}

export const BASELINE: ModelTruth = {
  accuracy: 0.75,
  medianLatencyMs: 40,
  errorRate: 0.002,
  reviewRate: 0.2,
};

export interface SimulationResult {
  readonly action: ExperimentAction;
  /** Outcomes per challenger arm (shadow: pairs) when the run stopped. */
  readonly samples: number;
  readonly decisions: number;
}

function recordRequest(counts: OperationalCounts, truth: ModelTruth, rng: Random): void {
  counts.requests += 1;
  if (rng.next() < truth.errorRate) {
    counts.errors += 1;
  } else if (rng.next() < truth.reviewRate) {
    counts.reviews += 1;
  }
  const latency = truth.medianLatencyMs * Math.exp(0.5 * rng.normal());
  counts.latencyHistogram[latencyBucketIndex(latency)]! += 1;
}

/** Coarser levels are right whenever HS6 is, and half the time otherwise. */
function levelsFromHs6(hs6: boolean, rng: Random): Record<'hs2' | 'hs4' | 'hs6', boolean> {
  const hs4 = hs6 || rng.next() < 0.5;
  const hs2 = hs4 || rng.next() < 0.5;
  return { hs2, hs4, hs6 };
}

function cell(champion: boolean, challenger: boolean): keyof PairedCounts {
  if (champion) return challenger ? 'bothCorrect' : 'championOnly';
  return challenger ? 'challengerOnly' : 'bothWrong';
}

/**
 * Shadow mode. `correlation` in [0, 1]: with that probability both models see the same latent item difficulty
 * (comonotone errors), otherwise they err independently, as real models of one task partly share their mistakes.
 */
export function simulateShadow(
  seed: number,
  champion: ModelTruth,
  challenger: ModelTruth,
  policy: DecisionPolicy,
  options: { correlation?: number; batchSize?: number } = {},
): SimulationResult {
  const rng = createRandom(seed);
  const correlation = options.correlation ?? 0.5;
  const batchSize = options.batchSize ?? 20;
  const state = emptyShadowState('champion', 'challenger');
  let decisions = 0;
  for (let n = 0; n < policy.maxSamplesPerArm;) {
    for (let i = 0; i < batchSize; i++, n++) {
      recordRequest(state.champion, champion, rng);
      recordRequest(state.challenger, challenger, rng);
      const difficulty = rng.next();
      const championRight = difficulty < champion.accuracy;
      const challengerRight = (rng.next() < correlation ? difficulty : rng.next()) < challenger.accuracy;
      const championLevels = levelsFromHs6(championRight, rng);
      const challengerLevels = levelsFromHs6(challengerRight, rng);
      for (const level of HS_LEVELS)
        state.pairs[level][cell(championLevels[level], challengerLevels[level])] += 1;
    }
    const decision = decideExperiment(state, policy);
    decisions++;
    if (decision.action !== 'continue') return { action: decision.action, samples: n, decisions };
  }
  throw new Error('the decision did not stop at the sample budget');
}

/**
 * Split mode: each item goes to the challenger with probability `challengerShare` (the hash assignment is uniform;
 * a seeded draw stands in for it here to keep thousands of runs fast).
 */
export function simulateSplit(
  seed: number,
  champion: ModelTruth,
  challenger: ModelTruth,
  policy: DecisionPolicy,
  options: { challengerShare?: number; batchSize?: number } = {},
): SimulationResult {
  const rng = createRandom(seed);
  const share = options.challengerShare ?? 0.5;
  const batchSize = options.batchSize ?? 20;
  const state = emptySplitState([
    { id: 'challenger', role: 'challenger', share },
    { id: 'champion', role: 'champion', share: 1 - share },
  ]);
  const [challengerArm, championArm] = state.arms as [(typeof state.arms)[0], (typeof state.arms)[0]];
  let decisions = 0;
  while (challengerArm.outcomes < policy.maxSamplesPerArm) {
    for (let i = 0; i < batchSize; i++) {
      const toChallenger = rng.next() < share;
      const arm = toChallenger ? challengerArm : championArm;
      const truth = toChallenger ? challenger : champion;
      recordRequest(arm.operational, truth, rng);
      const levels = levelsFromHs6(rng.next() < truth.accuracy, rng);
      arm.outcomes += 1;
      for (const level of HS_LEVELS) if (levels[level]) arm.correct[level] += 1;
    }
    const decision = decideExperiment(state, policy);
    decisions++;
    if (decision.action !== 'continue')
      return { action: decision.action, samples: challengerArm.outcomes, decisions };
  }
  throw new Error('the decision did not stop at the sample budget');
}

/** Runs `seeds` simulations and counts the actions. */
export function rates(
  seeds: number,
  run: (seed: number) => SimulationResult,
): { promote: number; reject: number; continue: number; meanSamples: number; runs: number } {
  const counts = { promote: 0, reject: 0, continue: 0 };
  let samples = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const result = run(seed);
    counts[result.action] += 1;
    samples += result.samples;
  }
  return {
    promote: counts.promote / seeds,
    reject: counts.reject / seeds,
    continue: counts.continue / seeds,
    meanSamples: samples / seeds,
    runs: seeds,
  };
}

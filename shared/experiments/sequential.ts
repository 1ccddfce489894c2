/**
 * Always-valid evidence for "the challenger is more accurate than the champion" (and the mirror, "less accurate"),
 * as e-values: non-negative statistics whose expectation under the null is at most 1 at EVERY sample size, and
 * which form a test supermartingale. By Ville's inequality P(sup_n E_n ≥ 1/α) ≤ α, so the decision timer may look
 * after every batch, at irregular times, as often as it likes: promoting the first time E ≥ 1/α keeps the false
 * promotion rate at or below α. No look schedule, spending function or planned maximum is needed (unlike
 * group-sequential alpha spending), and each e-value is a function of the current counts only, so the experiment
 * state stays a handful of integers in a Cosmos document.
 *
 * Both modes reduce to the same primitive, a one-sided Beta-mixture likelihood ratio for a stream of Bernoulli
 * labels against a known null probability:
 *
 * - shadow (paired): among discordant pairs, the label is "the challenger was the one that was right". Under equal
 *   accuracy it is Bernoulli(½) whatever the discordance rate (McNemar's conditioning), so the test is exact.
 * - split (unpaired): items are assigned by hash, independently of how hard they are, with a known challenger share
 *   s. Among CORRECT items the label "came from the challenger" is Bernoulli(s) under equal accuracy and
 *   Bernoulli(> s) when the challenger is better; among WRONG items it is Bernoulli(< s). The product of the two
 *   streams' e-values is again an e-value (each item updates exactly one stream, and the other's conditional
 *   expectation is untouched), for every common accuracy: exact, no normal approximation, no nuisance parameter.
 *   It relies on the assignment being what was configured: that is what the sample-ratio-mismatch guard checks.
 *
 * The mixing distribution over the alternative is a Beta prior centred on the null and truncated to the
 * alternative side, averaged over a geometric grid of concentrations: small concentrations detect large effects
 * quickly, large ones small effects, and the average costs only ln(grid size) nats of evidence against the best
 * single choice, without tuning the test to an effect size nobody knows in advance.
 */
import { logBeta, regularizedIncompleteBeta } from '../math/distributions';
import type { Proportion } from './statistics';

/** Beta-prior concentrations (α + β) mixed with equal weight. */
export const DEFAULT_CONCENTRATION_GRID: readonly number[] = [2, 8, 32, 128, 512, 2048];

/** Which side of the null the alternative lies on. */
export type Side = 'above' | 'below';

// Local bindings: global lookups are slow inside jest's `vm` contexts, and these run on every decision.
const { exp, log, log1p, max: maxOf, min } = Math;
const { isInteger } = Number;

function logSumExp(values: readonly number[]): number {
  const max = maxOf(...values);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const value of values) sum += exp(value - max);
  return max + log(sum);
}

/** ln P(θ on `side` of p0) for θ ~ Beta(a, b), computed on whichever tail keeps precision. */
function logSideMass(side: Side, p0: number, a: number, b: number): number {
  return log(
    side === 'above' ? regularizedIncompleteBeta(1 - p0, b, a) : regularizedIncompleteBeta(p0, a, b),
  );
}

// The prior's normalising constants depend only on (side, p0, κ): the decision timer re-evaluates the same few
// experiments over and over, so they are computed once.
const priorConstants = new Map<string, number>();
function logPriorConstant(side: Side, p0: number, a: number, b: number): number {
  const key = `${side}:${p0}:${a}:${b}`;
  let value = priorConstants.get(key);
  if (value === undefined) {
    value = logBeta(a, b) + logSideMass(side, p0, a, b);
    if (priorConstants.size > 10_000) priorConstants.clear();
    priorConstants.set(key, value);
  }
  return value;
}

/**
 * ln E for `successes` out of `trials` Bernoulli labels against H0: θ ≤ p0 (side 'above') or θ ≥ p0 ('below').
 * For each concentration κ the prior is Beta(κ·p0, κ·(1 − p0)) truncated to the alternative side, so
 * E_κ = [B(a + k, b + n − k) · P_post(side)] / [B(a, b) · P_prior(side)] / [p0^k (1 − p0)^(n−k)].
 * Each E_κ is a mixture of likelihood ratios θ'/p0 with θ' on the alternative side, each a supermartingale under
 * every θ in the composite null; so is their average.
 */
export function logMixtureEValue(
  successes: number,
  trials: number,
  nullProbability: number,
  side: Side,
  concentrationGrid: readonly number[] = DEFAULT_CONCENTRATION_GRID,
): number {
  if (!(nullProbability > 0 && nullProbability < 1)) {
    throw new RangeError(`null probability must be in (0, 1), got ${nullProbability}`);
  }
  if (!isInteger(trials) || trials < 0 || !isInteger(successes) || successes < 0 || successes > trials) {
    throw new RangeError(`need integer 0 ≤ successes ≤ trials, got ${successes}/${trials}`);
  }
  if (concentrationGrid.length === 0) throw new RangeError('the concentration grid is empty');
  if (trials === 0) return 0;
  const failures = trials - successes;
  const logNull = successes * log(nullProbability) + failures * log1p(-nullProbability);
  const terms = concentrationGrid.map((concentration) => {
    const a = concentration * nullProbability;
    const b = concentration * (1 - nullProbability);
    const logMarginal =
      logBeta(a + successes, b + failures) +
      logSideMass(side, nullProbability, a + successes, b + failures) -
      logPriorConstant(side, nullProbability, a, b);
    return logMarginal - logNull;
  });
  return logSumExp(terms) - log(concentrationGrid.length);
}

/** Evidence in both directions, as natural logs of e-values (ln E ≥ ln(1/α) rejects at level α). */
export interface SequentialEvidence {
  /** ln E against "the challenger is not more accurate". */
  readonly logEChallengerBetter: number;
  /** ln E against "the challenger is not less accurate". */
  readonly logEChallengerWorse: number;
}

/** Shadow mode: evidence from the discordant pairs (b = champion only right, c = challenger only right). */
export function pairedEvidence(
  championOnly: number,
  challengerOnly: number,
  concentrationGrid: readonly number[] = DEFAULT_CONCENTRATION_GRID,
): SequentialEvidence {
  const discordant = championOnly + challengerOnly;
  return {
    logEChallengerBetter: logMixtureEValue(challengerOnly, discordant, 0.5, 'above', concentrationGrid),
    logEChallengerWorse: logMixtureEValue(challengerOnly, discordant, 0.5, 'below', concentrationGrid),
  };
}

/**
 * Split mode: evidence from two arms with independent hash assignment. `challengerShare` is the configured share
 * of the challenger WITHIN these two arms (with more arms, its share divided by the two arms' combined share).
 */
export function splitEvidence(
  challenger: Proportion,
  champion: Proportion,
  challengerShare: number,
  concentrationGrid: readonly number[] = DEFAULT_CONCENTRATION_GRID,
): SequentialEvidence {
  const correct = challenger.successes + champion.successes;
  const wrong = challenger.trials - challenger.successes + (champion.trials - champion.successes);
  const challengerWrong = challenger.trials - challenger.successes;
  const evidence = (correctSide: Side, wrongSide: Side): number =>
    logMixtureEValue(challenger.successes, correct, challengerShare, correctSide, concentrationGrid) +
    logMixtureEValue(challengerWrong, wrong, challengerShare, wrongSide, concentrationGrid);
  return {
    logEChallengerBetter: evidence('above', 'below'),
    logEChallengerWorse: evidence('below', 'above'),
  };
}

/** The always-valid p-value that goes with an e-value: min(1, 1/E). */
export function alwaysValidPValue(logE: number): number {
  return min(1, exp(-logE));
}

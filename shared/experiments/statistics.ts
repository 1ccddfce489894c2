/**
 * Fixed-sample statistics for comparing a challenger with the champion: Wilson intervals per arm, McNemar's exact
 * test and Newcombe's paired interval (shadow mode), the two-proportion z-test and Newcombe's hybrid score interval
 * (split mode), and one-way ANOVA across three or more arms (the paper's method).
 *
 * These are what the experiment page and the audit log show. Their p-values are valid for ONE look at the data;
 * the promotion decision itself uses the always-valid e-values in `sequential.ts`, which stay valid however often
 * the timer looks.
 */
import {
  binomialCdf,
  binomialSurvival,
  fSurvival,
  normalCdf,
  normalQuantile,
  normalSurvival,
} from '../math/distributions';

// Local bindings: global lookups are slow inside jest's `vm` contexts, and these run on every decision.
const { sqrt, max, min, abs } = Math;
const { isInteger } = Number;

/** Successes out of trials, e.g. correct HS6 predictions out of predictions with feedback. */
export interface Proportion {
  readonly successes: number;
  readonly trials: number;
}

/** A point estimate with a two-sided confidence interval. */
export interface Interval {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  /** Coverage, e.g. 0.95. */
  readonly confidence: number;
}

const criticalValues = new Map<number, number>();

/** Two-sided normal critical value, cached: a handful of confidence levels are asked for over and over. */
function criticalValue(confidence: number): number {
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  let z = criticalValues.get(confidence);
  if (z === undefined) {
    z = normalQuantile(1 - (1 - confidence) / 2);
    if (criticalValues.size > 1000) criticalValues.clear();
    criticalValues.set(confidence, z);
  }
  return z;
}

function validateProportion({ successes, trials }: Proportion): void {
  if (!isInteger(trials) || trials <= 0) throw new RangeError(`trials must be a positive integer: ${trials}`);
  if (!isInteger(successes) || successes < 0 || successes > trials) {
    throw new RangeError(`successes must be an integer in [0, ${trials}], got ${successes}`);
  }
}

/**
 * Wilson score interval: unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0 and 1,
 * where accuracies at HS2 live.
 */
export function wilsonInterval(proportion: Proportion, confidence = 0.95): Interval {
  validateProportion(proportion);
  const { successes, trials } = proportion;
  const z = criticalValue(confidence);
  const z2 = z * z;
  const estimate = successes / trials;
  const denominator = trials + z2;
  const centre = (successes + z2 / 2) / denominator;
  const halfWidth = (z * sqrt((successes * (trials - successes)) / trials + z2 / 4)) / denominator;
  return {
    estimate,
    lower: max(0, centre - halfWidth),
    upper: min(1, centre + halfWidth),
    confidence,
  };
}

/**
 * Paired outcomes of champion and challenger on the same items (shadow mode), as a 2×2 table.
 * Only the discordant cells carry evidence about which model is better.
 */
export interface PairedTable {
  readonly bothCorrect: number;
  /** Champion right, challenger wrong (McNemar's b). */
  readonly championOnly: number;
  /** Challenger right, champion wrong (McNemar's c). */
  readonly challengerOnly: number;
  readonly bothWrong: number;
}

export interface McNemarResult {
  readonly championOnly: number;
  readonly challengerOnly: number;
  readonly discordant: number;
  /** Exact two-sided p: 2 · P(X ≤ min(b, c)), X ~ Bin(b + c, ½), capped at 1. */
  readonly pTwoSided: number;
  /** Exact one-sided p for "the challenger is more accurate": P(X ≥ c). */
  readonly pChallengerBetter: number;
  /** Exact one-sided p for "the champion is more accurate": P(X ≤ c). */
  readonly pChampionBetter: number;
}

/** McNemar's exact (conditional binomial) test on the discordant pairs. */
export function mcnemarExact(championOnly: number, challengerOnly: number): McNemarResult {
  for (const count of [championOnly, challengerOnly]) {
    if (!(isInteger(count) && count >= 0)) throw new RangeError(`discordant counts must be counts: ${count}`);
  }
  const discordant = championOnly + challengerOnly;
  const smaller = min(championOnly, challengerOnly);
  return {
    championOnly,
    challengerOnly,
    discordant,
    pTwoSided: discordant === 0 ? 1 : min(1, 2 * binomialCdf(smaller, discordant, 0.5)),
    pChallengerBetter: binomialSurvival(challengerOnly, discordant, 0.5),
    pChampionBetter: binomialCdf(challengerOnly, discordant, 0.5),
  };
}

/**
 * Newcombe's score interval for the difference of paired proportions (his method 10, 1998): challenger accuracy
 * minus champion accuracy, with the two Wilson intervals combined through the phi correlation of the table.
 */
export function pairedDifferenceInterval(table: PairedTable, confidence = 0.95): Interval {
  const { bothCorrect: a, championOnly: b, challengerOnly: c, bothWrong: d } = table;
  const n = a + b + c + d;
  if (n <= 0) throw new RangeError('a paired interval needs at least one pair');
  const challenger = wilsonInterval({ successes: a + c, trials: n }, confidence);
  const champion = wilsonInterval({ successes: a + b, trials: n }, confidence);
  const estimate = (c - b) / n;
  const marginProduct = (a + b) * (c + d) * (a + c) * (b + d);
  let phi = 0;
  if (marginProduct > 0) {
    const cross = a * d - b * c;
    // Newcombe's continuity correction shrinks a positive association by n/2.
    const corrected = cross > 0 ? max(cross - n / 2, 0) : cross;
    phi = corrected / sqrt(marginProduct);
  }
  const challengerDown = challenger.estimate - challenger.lower;
  const challengerUp = challenger.upper - challenger.estimate;
  const championDown = champion.estimate - champion.lower;
  const championUp = champion.upper - champion.estimate;
  const below = sqrt(max(0, challengerDown ** 2 - 2 * phi * challengerDown * championUp + championUp ** 2));
  const above = sqrt(max(0, challengerUp ** 2 - 2 * phi * challengerUp * championDown + championDown ** 2));
  return {
    estimate,
    lower: max(-1, estimate - below),
    upper: min(1, estimate + above),
    confidence,
  };
}

export interface TwoProportionResult {
  /** Challenger accuracy minus champion accuracy, with Newcombe's hybrid score interval. */
  readonly difference: Interval;
  /** Pooled z statistic; positive when the challenger is ahead. */
  readonly z: number;
  readonly pTwoSided: number;
  readonly pChallengerBetter: number;
  readonly pChampionBetter: number;
}

/**
 * Two-proportion z-test with pooled variance (split mode, independent arms), and Newcombe's hybrid score interval
 * for the difference (method 10, 1998), which keeps its coverage where the Wald interval does not.
 */
export function twoProportionTest(
  challenger: Proportion,
  champion: Proportion,
  confidence = 0.95,
): TwoProportionResult {
  validateProportion(challenger);
  validateProportion(champion);
  const challengerInterval = wilsonInterval(challenger, confidence);
  const championInterval = wilsonInterval(champion, confidence);
  const estimate = challengerInterval.estimate - championInterval.estimate;
  const pooled = (challenger.successes + champion.successes) / (challenger.trials + champion.trials);
  const standardError = sqrt(pooled * (1 - pooled) * (1 / challenger.trials + 1 / champion.trials));
  // All successes or all failures in both arms: both estimates are equal and the data carry no evidence.
  const z = standardError === 0 ? 0 : estimate / standardError;
  const lower =
    estimate -
    sqrt(
      (challengerInterval.estimate - challengerInterval.lower) ** 2 +
        (championInterval.upper - championInterval.estimate) ** 2,
    );
  const upper =
    estimate +
    sqrt(
      (challengerInterval.upper - challengerInterval.estimate) ** 2 +
        (championInterval.estimate - championInterval.lower) ** 2,
    );
  return {
    difference: { estimate, lower, upper, confidence },
    z,
    pTwoSided: min(1, 2 * normalSurvival(abs(z))),
    pChallengerBetter: normalSurvival(z),
    pChampionBetter: normalCdf(z),
  };
}

/** Sufficient statistics of one group for ANOVA; for 0/1 outcomes sum = sumOfSquares = successes. */
export interface GroupSummary {
  readonly count: number;
  readonly sum: number;
  readonly sumOfSquares: number;
}

export interface AnovaResult {
  readonly f: number;
  readonly degreesOfFreedomBetween: number;
  readonly degreesOfFreedomWithin: number;
  readonly sumOfSquaresBetween: number;
  readonly sumOfSquaresWithin: number;
  readonly pValue: number;
}

/**
 * One-way ANOVA from per-group sums, so it runs on the incrementally kept counts without the raw outcomes.
 * When there is no variation at all (every outcome identical) the arms are indistinguishable: F = 0, p = 1.
 */
export function oneWayAnova(groups: readonly GroupSummary[]): AnovaResult {
  if (groups.length < 2) throw new RangeError('ANOVA needs at least two groups');
  let total = 0;
  let grandSum = 0;
  for (const group of groups) {
    if (!(group.count >= 2))
      throw new RangeError(`each ANOVA group needs at least two observations: ${group.count}`);
    total += group.count;
    grandSum += group.sum;
  }
  const grandMean = grandSum / total;
  let between = 0;
  let within = 0;
  for (const group of groups) {
    const mean = group.sum / group.count;
    between += group.count * (mean - grandMean) ** 2;
    within += max(0, group.sumOfSquares - group.sum * mean);
  }
  const degreesOfFreedomBetween = groups.length - 1;
  const degreesOfFreedomWithin = total - groups.length;
  let f: number;
  if (within > 0) f = between / degreesOfFreedomBetween / (within / degreesOfFreedomWithin);
  else f = between > 0 ? Infinity : 0;
  return {
    f,
    degreesOfFreedomBetween,
    degreesOfFreedomWithin,
    sumOfSquaresBetween: between,
    sumOfSquaresWithin: within,
    pValue: fSurvival(f, degreesOfFreedomBetween, degreesOfFreedomWithin),
  };
}

/** ANOVA on per-arm accuracies (0/1 outcomes). */
export function anovaOfProportions(arms: readonly Proportion[]): AnovaResult {
  return oneWayAnova(
    arms.map(({ successes, trials }) => ({ count: trials, sum: successes, sumOfSquares: successes })),
  );
}

/**
 * Traffic assignment for split-mode experiments and the sample-ratio-mismatch (SRM) guard.
 *
 * Assignment is a pure function of (experiment id, unit key): the same shipment, declarant or prediction always
 * lands in the same arm, on any instance, with no stored state. Hashing the experiment id in as well decorrelates
 * experiments, so a unit that is "challenger" in one experiment is not systematically challenger in the next.
 */
import { createHash } from 'node:crypto';
import { chiSquareSurvival } from '../math/distributions';

/** One arm of a split and the share of traffic it should receive. */
export interface ArmShare {
  readonly id: string;
  /** Fraction of traffic in (0, 1]; the shares of a split sum to 1. */
  readonly share: number;
}

const SHARE_SUM_TOLERANCE = 1e-9;
const TWO_POW_26 = 2 ** 26;
const TWO_POW_53 = 2 ** 53;

/**
 * The unit a request is assigned by: the caller's key (shipment or declarant id) when given, so that every line of
 * a shipment sees the same model, otherwise the prediction id.
 */
export function assignmentKey(unitKey: string | undefined, predictionId: string): string {
  if (unitKey !== undefined && unitKey.length > 0) return unitKey;
  if (predictionId.length === 0) throw new RangeError('assignment needs a unit key or a prediction id');
  return predictionId;
}

/**
 * Uniform point in [0, 1) from sha256 of the experiment id and the unit key (53 bits, the full precision of a
 * double). JSON encoding of the pair keeps ("ab", "c") and ("a", "bc") apart.
 */
export function assignmentPoint(experimentId: string, unitKey: string): number {
  const digest = createHash('sha256')
    .update(JSON.stringify([experimentId, unitKey]))
    .digest();
  const high27 = digest.readUInt32BE(0) >>> 5;
  const low26 = digest.readUInt32BE(4) >>> 6;
  return (high27 * TWO_POW_26 + low26) / TWO_POW_53;
}

function validateShares(arms: readonly ArmShare[]): void {
  if (arms.length < 2) throw new RangeError('a split needs at least two arms');
  let total = 0;
  const ids = new Set<string>();
  for (const arm of arms) {
    if (!(arm.share > 0 && arm.share <= 1)) throw new RangeError(`arm ${arm.id} has share ${arm.share}`);
    if (ids.has(arm.id)) throw new RangeError(`arm ${arm.id} appears twice`);
    ids.add(arm.id);
    total += arm.share;
  }
  if (Math.abs(total - 1) > SHARE_SUM_TOLERANCE) throw new RangeError(`arm shares sum to ${total}, not 1`);
}

/**
 * The arm for a unit: arms own consecutive slices of [0, 1) in the order given. Keep the order stable for the life
 * of an experiment; growing the first arm's share then only moves units into it, never between other arms.
 */
export function assignArm(experimentId: string, unitKey: string, arms: readonly ArmShare[]): string {
  validateShares(arms);
  const point = assignmentPoint(experimentId, unitKey);
  let upper = 0;
  for (const arm of arms) {
    upper += arm.share;
    if (point < upper) return arm.id;
  }
  // Rounding in the share sum can leave a sliver below 1 uncovered; it belongs to the last arm.
  return arms[arms.length - 1]!.id;
}

/**
 * Two-arm split: true when the unit goes to the challenger. The challenger owns [0, share), so raising its share
 * keeps every unit already on the challenger there (ramp-ups stay sticky).
 */
export function assignToChallenger(experimentId: string, unitKey: string, challengerShare: number): boolean {
  if (!(challengerShare >= 0 && challengerShare <= 1)) {
    throw new RangeError(`challenger share must be in [0, 1], got ${challengerShare}`);
  }
  return assignmentPoint(experimentId, unitKey) < challengerShare;
}

/** Result of the sample-ratio-mismatch check. */
export interface SampleRatioCheck {
  /** Units observed in each arm, in the order of the configured shares. */
  readonly observed: readonly number[];
  /** Units expected in each arm under the configured split. */
  readonly expected: readonly number[];
  readonly chiSquare: number;
  readonly degreesOfFreedom: number;
  readonly pValue: number;
  /** The p-value threshold the check used. */
  readonly threshold: number;
  /** True when p < threshold: the observed split is not what was configured, so arm comparisons are suspect. */
  readonly mismatch: boolean;
}

/** Default SRM threshold: strict, because the check runs on every decision and a false alarm halts promotion. */
export const DEFAULT_SRM_THRESHOLD = 0.001;

/**
 * Chi-square goodness of fit of observed arm counts against the configured shares. A mismatch means assignment or
 * logging is broken (a crashing arm, a filter that drops one arm's traffic), which invalidates every comparison.
 * With no units yet, nothing can mismatch and the p-value is 1.
 */
export function checkSampleRatio(
  observed: readonly number[],
  shares: readonly number[],
  threshold = DEFAULT_SRM_THRESHOLD,
): SampleRatioCheck {
  if (observed.length !== shares.length || observed.length < 2) {
    throw new RangeError('sample ratio check needs one observed count per share, at least two arms');
  }
  const shareTotal = shares.reduce((sum, share) => sum + share, 0);
  if (Math.abs(shareTotal - 1) > SHARE_SUM_TOLERANCE)
    throw new RangeError(`shares sum to ${shareTotal}, not 1`);
  for (const count of observed) {
    if (!(Number.isInteger(count) && count >= 0))
      throw new RangeError(`observed counts must be counts, got ${count}`);
  }
  const total = observed.reduce((sum, count) => sum + count, 0);
  const expected = shares.map((share) => share * total);
  let chiSquare = 0;
  observed.forEach((count, i) => {
    const expectedCount = expected[i]!;
    if (expectedCount > 0) chiSquare += (count - expectedCount) ** 2 / expectedCount;
    else if (count > 0) chiSquare = Infinity;
  });
  const degreesOfFreedom = observed.length - 1;
  const pValue =
    total === 0 ? 1 : chiSquare === Infinity ? 0 : chiSquareSurvival(chiSquare, degreesOfFreedom);
  return {
    observed: [...observed],
    expected,
    chiSquare,
    degreesOfFreedom,
    pValue,
    threshold,
    mismatch: pValue < threshold,
  };
}

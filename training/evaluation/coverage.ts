/**
 * Coverage at a target precision: the share of items the service may decide automatically ("auto") while the
 * automatic decisions stay at least that precise. The threshold is chosen on validation data and then measured
 * on test data, which is the honest figure; the peers' "oracle" figure chooses it on the test set itself.
 */

export interface ThresholdChoice {
  /** Items with confidence ≥ threshold are decided automatically; Infinity when no threshold reaches the target. */
  readonly threshold: number;
  /** Precision and coverage on the data the threshold was chosen on. */
  readonly precision: number;
  readonly coverage: number;
}

export interface ThresholdOutcome {
  readonly threshold: number;
  /** Precision of the automatic decisions (1 when there are none: no automatic decision was wrong). */
  readonly precision: number;
  /** Share of items decided automatically. */
  readonly coverage: number;
  readonly decided: number;
}

/** Item order by descending confidence (stable, so ties keep their input order). */
function descendingOrder(confidence: Float32Array): Int32Array {
  const order = Int32Array.from({ length: confidence.length }, (_, i) => i);
  return order.sort((a, b) => confidence[b]! - confidence[a]! || a - b);
}

/**
 * The lowest threshold whose automatic decisions (confidence ≥ threshold) reach `targetPrecision`. Only
 * confidences that occur are candidates, and tied items are admitted together, because a threshold cannot
 * separate items with the same confidence.
 */
export function chooseThreshold(
  confidence: Float32Array,
  correct: Uint8Array,
  targetPrecision: number,
): ThresholdChoice {
  const n = confidence.length;
  if (correct.length !== n) throw new Error('confidence and correct differ in length');
  const order = descendingOrder(confidence);
  let hits = 0;
  let best: ThresholdChoice = { threshold: Infinity, precision: 1, coverage: 0 };
  for (let rank = 0; rank < n; rank++) {
    const item = order[rank]!;
    hits += correct[item]!;
    const next = order[rank + 1];
    if (next !== undefined && confidence[next] === confidence[item]) continue;
    const decided = rank + 1;
    if (hits / decided >= targetPrecision) {
      best = { threshold: confidence[item]!, precision: hits / decided, coverage: decided / n };
    }
  }
  return best;
}

/** Precision and coverage of a fixed threshold. */
export function evaluateThreshold(
  confidence: Float32Array,
  correct: Uint8Array,
  threshold: number,
): ThresholdOutcome {
  let decided = 0;
  let hits = 0;
  for (let i = 0; i < confidence.length; i++) {
    if (confidence[i]! >= threshold) {
      decided++;
      hits += correct[i]!;
    }
  }
  return {
    threshold,
    precision: decided ? hits / decided : 1,
    coverage: confidence.length ? decided / confidence.length : 0,
    decided,
  };
}

/**
 * The peers' figure (bench/peers.py): sort by confidence, take the longest prefix whose precision reaches the
 * target, on the evaluated set itself. Ties are split by position, as numpy's argsort does.
 */
export function oracleCoverage(
  confidence: Float32Array,
  correct: Uint8Array,
  targetPrecision: number,
): number {
  const n = confidence.length;
  const order = descendingOrder(confidence);
  let hits = 0;
  let longest = 0;
  for (let rank = 0; rank < n; rank++) {
    hits += correct[order[rank]!]!;
    if (hits / (rank + 1) >= targetPrecision) longest = rank + 1;
  }
  return n ? longest / n : 0;
}

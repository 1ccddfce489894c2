/**
 * Experiment state as plain counts, so it lives in one Cosmos document and is updated incrementally (each
 * prediction or feedback adds to a few integers; Cosmos patch `incr` operations map one to one onto the
 * `add*` helpers below). Nothing here depends on the order in which events arrived.
 */

/** Granularity at which correctness is judged: chapter, heading, subheading. */
export type HsLevel = 'hs2' | 'hs4' | 'hs6';
export const HS_LEVELS: readonly HsLevel[] = ['hs2', 'hs4', 'hs6'];

/** Correctness of one prediction at each level. */
export type LevelCorrectness = Readonly<Record<HsLevel, boolean>>;

/** Compares a predicted HS code with the filed one at HS2/HS4/HS6 (digits only; national suffixes ignored). */
export function correctnessByLevel(predictedCode: string, filedCode: string): LevelCorrectness {
  const predicted = predictedCode.replace(/\D/g, '');
  const filed = filedCode.replace(/\D/g, '');
  if (filed.length < 6) throw new RangeError(`filed code needs at least six digits: "${filedCode}"`);
  const matches = (digits: number): boolean =>
    predicted.length >= digits && predicted.slice(0, digits) === filed.slice(0, digits);
  return { hs2: matches(2), hs4: matches(4), hs6: matches(6) };
}

/**
 * Upper bounds (ms) of the latency histogram buckets; the last bucket is open-ended. Roughly geometric, so the
 * relative error of a percentile read from the histogram is bounded (about 25–50 %) at every scale.
 */
export const LATENCY_BUCKET_UPPER_BOUNDS_MS: readonly number[] = [
  1,
  2,
  3,
  5,
  7,
  10,
  15,
  20,
  30,
  50,
  70,
  100,
  150,
  200,
  300,
  500,
  700,
  1000,
  1500,
  2000,
  3000,
  5000,
  7000,
  10000,
  Infinity,
];

/** Index of the histogram bucket that a latency falls into. */
export function latencyBucketIndex(latencyMs: number): number {
  if (!(latencyMs >= 0)) throw new RangeError(`latency must be a non-negative number, got ${latencyMs}`);
  const index = LATENCY_BUCKET_UPPER_BOUNDS_MS.findIndex((upper) => latencyMs <= upper);
  return index;
}

/**
 * Percentile of a latency histogram, interpolated geometrically inside its bucket (the buckets are geometric, so
 * this is the natural reading; taking bucket bounds instead made two arms' p95 differ by a whole bucket width on
 * noise alone). A percentile in the open last bucket is reported as that bucket's lower bound. NaN when empty.
 */
export function histogramPercentile(histogram: readonly number[], quantile: number): number {
  if (histogram.length !== LATENCY_BUCKET_UPPER_BOUNDS_MS.length) {
    throw new RangeError(`latency histogram needs ${LATENCY_BUCKET_UPPER_BOUNDS_MS.length} buckets`);
  }
  if (!(quantile > 0 && quantile <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${quantile}`);
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return NaN;
  const rank = quantile * total;
  let before = 0;
  for (let i = 0; i < histogram.length; i++) {
    const count = histogram[i]!;
    if (count > 0 && before + count >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BUCKET_UPPER_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BUCKET_UPPER_BOUNDS_MS[i]!;
      const fraction = (rank - before) / count;
      if (upper === Infinity) return lower;
      if (lower === 0) return upper * fraction;
      return lower * (upper / lower) ** fraction;
    }
    before += count;
  }
  return LATENCY_BUCKET_UPPER_BOUNDS_MS[LATENCY_BUCKET_UPPER_BOUNDS_MS.length - 2]!;
}

/** Operational counters of one model in an experiment (everything it answered, with or without feedback). */
export interface OperationalCounts {
  /** Requests the model was asked to score. */
  requests: number;
  /** Requests that failed (exception, timeout) instead of producing a prediction. */
  errors: number;
  /** Predictions whose decision was "review" rather than "auto". */
  reviews: number;
  /** Latency counts per bucket of LATENCY_BUCKET_UPPER_BOUNDS_MS. */
  latencyHistogram: number[];
}

export function emptyOperationalCounts(): OperationalCounts {
  return {
    requests: 0,
    errors: 0,
    reviews: 0,
    latencyHistogram: new Array<number>(LATENCY_BUCKET_UPPER_BOUNDS_MS.length).fill(0),
  };
}

/** One scored request, as the operational counters see it. */
export interface RequestObservation {
  readonly latencyMs: number;
  readonly error: boolean;
  /** True when the prediction was routed to human review (ignored for errors). */
  readonly review: boolean;
}

/** Counts after one more request (pure: returns a new object). */
export function addRequest(counts: OperationalCounts, request: RequestObservation): OperationalCounts {
  const latencyHistogram = [...counts.latencyHistogram];
  latencyHistogram[latencyBucketIndex(request.latencyMs)]! += 1;
  return {
    requests: counts.requests + 1,
    errors: counts.errors + (request.error ? 1 : 0),
    reviews: counts.reviews + (!request.error && request.review ? 1 : 0),
    latencyHistogram,
  };
}

/** Paired correctness table of one level (see statistics.PairedTable). */
export interface PairedCounts {
  bothCorrect: number;
  championOnly: number;
  challengerOnly: number;
  bothWrong: number;
}

/**
 * Shadow mode: the champion answers, the challenger scores the same item off the response path. Feedback gives a
 * paired outcome per item.
 */
export interface ShadowExperimentState {
  readonly mode: 'shadow';
  readonly championId: string;
  readonly challengerId: string;
  /** Paired outcomes per level, for items with feedback where both models produced a prediction. */
  pairs: Record<HsLevel, PairedCounts>;
  champion: OperationalCounts;
  challenger: OperationalCounts;
}

/** One arm of a split experiment. */
export interface SplitArmState {
  readonly id: string;
  readonly role: 'champion' | 'challenger';
  /** Configured traffic share; the shares of all arms sum to 1. */
  readonly share: number;
  /** Items of this arm with feedback. */
  outcomes: number;
  /** Of those, correct per level. */
  correct: Record<HsLevel, number>;
  operational: OperationalCounts;
}

/** Split mode: each item goes to exactly one arm by hash; exactly one arm is the champion. */
export interface SplitExperimentState {
  readonly mode: 'split';
  arms: SplitArmState[];
}

export type ExperimentState = ShadowExperimentState | SplitExperimentState;

function emptyPairs(): PairedCounts {
  return { bothCorrect: 0, championOnly: 0, challengerOnly: 0, bothWrong: 0 };
}

export function emptyShadowState(championId: string, challengerId: string): ShadowExperimentState {
  return {
    mode: 'shadow',
    championId,
    challengerId,
    pairs: { hs2: emptyPairs(), hs4: emptyPairs(), hs6: emptyPairs() },
    champion: emptyOperationalCounts(),
    challenger: emptyOperationalCounts(),
  };
}

export function emptySplitState(
  arms: readonly { id: string; role: 'champion' | 'challenger'; share: number }[],
): SplitExperimentState {
  if (arms.filter((arm) => arm.role === 'champion').length !== 1) {
    throw new RangeError('a split experiment needs exactly one champion arm');
  }
  if (arms.length < 2) throw new RangeError('a split experiment needs at least one challenger arm');
  return {
    mode: 'split',
    arms: arms.map((arm) => ({
      ...arm,
      outcomes: 0,
      correct: { hs2: 0, hs4: 0, hs6: 0 },
      operational: emptyOperationalCounts(),
    })),
  };
}

/** Shadow state after feedback on one item that both models scored (pure). */
export function addPairedOutcome(
  state: ShadowExperimentState,
  champion: LevelCorrectness,
  challenger: LevelCorrectness,
): ShadowExperimentState {
  const pairs = { ...state.pairs };
  for (const level of HS_LEVELS) {
    const cell: keyof PairedCounts = champion[level]
      ? challenger[level]
        ? 'bothCorrect'
        : 'championOnly'
      : challenger[level]
        ? 'challengerOnly'
        : 'bothWrong';
    pairs[level] = { ...pairs[level], [cell]: pairs[level][cell] + 1 };
  }
  return { ...state, pairs };
}

/** Split state after feedback on one item served by `armId` (pure). */
export function addSplitOutcome(
  state: SplitExperimentState,
  armId: string,
  correctness: LevelCorrectness,
): SplitExperimentState {
  if (!state.arms.some((arm) => arm.id === armId)) throw new RangeError(`unknown arm ${armId}`);
  return {
    ...state,
    arms: state.arms.map((arm) =>
      arm.id !== armId
        ? arm
        : {
            ...arm,
            outcomes: arm.outcomes + 1,
            correct: {
              hs2: arm.correct.hs2 + (correctness.hs2 ? 1 : 0),
              hs4: arm.correct.hs4 + (correctness.hs4 ? 1 : 0),
              hs6: arm.correct.hs6 + (correctness.hs6 ? 1 : 0),
            },
          },
    ),
  };
}

/** Split state after one request served by `armId` (pure). */
export function addSplitRequest(
  state: SplitExperimentState,
  armId: string,
  request: RequestObservation,
): SplitExperimentState {
  if (!state.arms.some((arm) => arm.id === armId)) throw new RangeError(`unknown arm ${armId}`);
  return {
    ...state,
    arms: state.arms.map((arm) =>
      arm.id !== armId ? arm : { ...arm, operational: addRequest(arm.operational, request) },
    ),
  };
}

import {
  decideExperiment,
  decisionPolicy,
  DEFAULT_DECISION_POLICY,
} from '../../../../shared/experiments/decision';
import {
  addPairedOutcome,
  addRequest,
  addSplitOutcome,
  addSplitRequest,
  correctnessByLevel,
  emptyOperationalCounts,
  emptyShadowState,
  emptySplitState,
  histogramPercentile,
  latencyBucketIndex,
  type OperationalCounts,
  type PairedCounts,
  type ShadowExperimentState,
} from '../../../../shared/experiments/state';

function operational(requests: number, latencyMs: number, errors = 0, reviews = 0): OperationalCounts {
  const counts = emptyOperationalCounts();
  counts.requests = requests;
  counts.errors = errors;
  counts.reviews = reviews;
  counts.latencyHistogram[latencyBucketIndex(latencyMs)] = requests;
  return counts;
}

function shadow(
  table: PairedCounts,
  challengerOps = operational(1000, 40),
  coarse?: PairedCounts,
): ShadowExperimentState {
  const state = emptyShadowState('v1', 'v2');
  state.pairs = { hs2: coarse ?? table, hs4: coarse ?? table, hs6: table };
  state.champion = operational(1000, 40);
  state.challenger = challengerOps;
  return state;
}

const CLEAR_GAIN: PairedCounts = { bothCorrect: 700, championOnly: 40, challengerOnly: 110, bothWrong: 150 };
const NO_GAIN: PairedCounts = { bothCorrect: 700, championOnly: 75, challengerOnly: 75, bothWrong: 150 };

describe('decideExperiment, shadow mode', () => {
  test('promotes on clear paired evidence and reports all three levels', () => {
    const decision = decideExperiment(shadow(CLEAR_GAIN));
    expect(decision.action).toBe('promote');
    expect(decision.challengerId).toBe('v2');
    expect(decision.reasons.join(' ')).toMatch(/more accurate at hs6/);
    const hs6 = decision.statistics.levels.hs6;
    expect(hs6.arms.map((arm) => arm.accuracy!.estimate)).toEqual([0.74, 0.81]);
    expect(hs6.comparisons[0]!.mcnemar!.pChallengerBetter).toBeLessThan(1e-6);
    expect(Object.keys(decision.statistics.levels)).toEqual(['hs2', 'hs4', 'hs6']);
    expect(decision.statistics.challengers[0]!.evidence.eValueBetter).toBeGreaterThan(20);
  });

  test('continues while the evidence is balanced; rejects at the sample budget', () => {
    const undecided = decideExperiment(shadow(NO_GAIN));
    expect(undecided.action).toBe('continue');
    expect(undecided.reasons.join(' ')).toMatch(/not enough evidence/);
    const exhausted = decideExperiment(shadow(NO_GAIN), decisionPolicy({ maxSamplesPerArm: 1000 }));
    expect(exhausted.action).toBe('reject');
    expect(exhausted.reasons[0]).toMatch(/budget/);
  });

  test('rejects on evidence that the challenger is worse', () => {
    const worse = { bothCorrect: 700, championOnly: 110, challengerOnly: 40, bothWrong: 150 };
    expect(decideExperiment(shadow(worse)).action).toBe('reject');
  });

  test('waits for the minimum samples and discordant pairs', () => {
    const small = { bothCorrect: 150, championOnly: 0, challengerOnly: 25, bothWrong: 25 };
    const decision = decideExperiment(shadow(small));
    expect(decision.action).toBe('continue');
    expect(decision.reasons.join(' ')).toMatch(/discordant pairs, minimum 30/);
    expect(decideExperiment(shadow(small), decisionPolicy({ minDiscordantPairs: 20 })).action).toBe(
      'promote',
    );
  });

  test('a guardrail breach blocks promotion and a severe one rejects', () => {
    const slower = decideExperiment(shadow(CLEAR_GAIN, operational(1000, 120)));
    expect(slower.action).toBe('continue');
    expect(slower.reasons.join(' ')).toMatch(/guardrail breach blocks promotion: p95LatencyMs/);
    const failing = decideExperiment(shadow(CLEAR_GAIN, operational(1000, 40, 30)));
    expect(failing.action).toBe('reject');
    expect(failing.reasons[0]).toMatch(/severe guardrail breach: errorRate/);
    const reviewing = decideExperiment(shadow(CLEAR_GAIN, operational(1000, 40, 0, 80)));
    expect(reviewing.action).toBe('continue');
    expect(reviewing.statistics.challengers[0]!.guardrails.map((g) => g.status)).toEqual([
      'ok',
      'ok',
      'breach',
    ]);
  });

  test('the decision uses the configured level', () => {
    const state = shadow(NO_GAIN, operational(1000, 40), CLEAR_GAIN);
    expect(decideExperiment(state).action).toBe('continue');
    expect(decideExperiment(state, decisionPolicy({ level: 'hs4' })).action).toBe('promote');
  });

  test('a minimum effect makes promotion stricter', () => {
    const decision = decideExperiment(shadow(CLEAR_GAIN), decisionPolicy({ minimumEffect: 0.1 }));
    expect(decision.action).toBe('continue');
    expect(decision.reasons.join(' ')).toMatch(/below the minimum effect/);
  });
});

describe('decideExperiment, split mode', () => {
  function split(challengerCorrect: number, challengerOutcomes = 2000, championOutcomes = 2000) {
    const state = emptySplitState([
      { id: 'v2', role: 'challenger', share: 0.5 },
      { id: 'v1', role: 'champion', share: 0.5 },
    ]);
    const [challenger, champion] = state.arms as [(typeof state.arms)[0], (typeof state.arms)[0]];
    challenger.outcomes = challengerOutcomes;
    challenger.correct = { hs2: challengerCorrect, hs4: challengerCorrect, hs6: challengerCorrect };
    champion.outcomes = championOutcomes;
    champion.correct = { hs2: 1500, hs4: 1500, hs6: 1500 };
    challenger.operational = operational(challengerOutcomes, 40);
    champion.operational = operational(championOutcomes, 40);
    return state;
  }

  test('promotes a clearly better arm with the z-test and Newcombe interval reported', () => {
    const decision = decideExperiment(split(1700));
    expect(decision.action).toBe('promote');
    const comparison = decision.statistics.levels.hs6.comparisons[0]!.twoProportion!;
    expect(comparison.difference.estimate).toBeCloseTo(0.1, 12);
    expect(comparison.difference.lower).toBeGreaterThan(0);
    expect(decision.statistics.sampleRatio!.requests.mismatch).toBe(false);
  });

  test('a sample-ratio mismatch blocks promotion', () => {
    const decision = decideExperiment(split(1530, 1800, 2200));
    expect(decision.statistics.sampleRatio!.outcomes.mismatch).toBe(true);
    expect(decision.action).toBe('continue');
    expect(decision.reasons.join(' ')).toMatch(/sample ratio mismatch/);
  });

  test('three arms: ANOVA is reported and the threshold is Bonferroni-corrected', () => {
    const state = emptySplitState([
      { id: 'a', role: 'challenger', share: 0.25 },
      { id: 'b', role: 'challenger', share: 0.25 },
      { id: 'v1', role: 'champion', share: 0.5 },
    ]);
    const outcomes = [1000, 1000, 2000];
    const correct = [850, 780, 1500];
    state.arms.forEach((arm, i) => {
      arm.outcomes = outcomes[i]!;
      arm.correct = { hs2: correct[i]!, hs4: correct[i]!, hs6: correct[i]! };
      arm.operational = operational(outcomes[i]!, 40);
    });
    const decision = decideExperiment(state);
    const anova = decision.statistics.levels.hs6.anova!;
    expect(anova.degreesOfFreedomBetween).toBe(2);
    expect(anova.degreesOfFreedomWithin).toBe(3997);
    expect(anova.pValue).toBeLessThan(0.01);
    expect(decision.statistics.challengers[0]!.evidence.logThreshold).toBeCloseTo(Math.log(40), 12);
    expect(decision.action).toBe('promote');
    expect(decision.challengerId).toBe('a');
  });
});

describe('policy and state helpers', () => {
  test('policy defaults and validation', () => {
    expect(DEFAULT_DECISION_POLICY).toMatchObject({ alpha: 0.05, level: 'hs6', minSamplesPerArm: 200 });
    expect(() => decisionPolicy({ alpha: 0 })).toThrow(/alpha/);
    expect(() => decisionPolicy({ maxSamplesPerArm: 10, minSamplesPerArm: 100 })).toThrow(/maxSamplesPerArm/);
    expect(() => decisionPolicy({ severeBreachFactor: 0.5 })).toThrow(/severeBreachFactor/);
  });

  test('correctness by level and incremental updates', () => {
    expect(correctnessByLevel('8471.30', '847130')).toEqual({ hs2: true, hs4: true, hs6: true });
    expect(correctnessByLevel('847150', '8471300000')).toEqual({ hs2: true, hs4: true, hs6: false });
    expect(correctnessByLevel('850440', '847130')).toEqual({ hs2: false, hs4: false, hs6: false });
    expect(() => correctnessByLevel('8471', '8471')).toThrow(RangeError);

    let state = emptyShadowState('v1', 'v2');
    state = addPairedOutcome(
      state,
      correctnessByLevel('847130', '847130'),
      correctnessByLevel('847150', '847130'),
    );
    expect(state.pairs.hs6).toEqual({ bothCorrect: 0, championOnly: 1, challengerOnly: 0, bothWrong: 0 });
    expect(state.pairs.hs4).toEqual({ bothCorrect: 1, championOnly: 0, challengerOnly: 0, bothWrong: 0 });

    let split = emptySplitState([
      { id: 'v2', role: 'challenger', share: 0.1 },
      { id: 'v1', role: 'champion', share: 0.9 },
    ]);
    split = addSplitOutcome(split, 'v2', { hs2: true, hs4: true, hs6: false });
    split = addSplitRequest(split, 'v2', { latencyMs: 12, error: false, review: true });
    expect(split.arms[0]).toMatchObject({ outcomes: 1, correct: { hs2: 1, hs4: 1, hs6: 0 } });
    expect(split.arms[0]!.operational).toMatchObject({ requests: 1, errors: 0, reviews: 1 });
    expect(() => addSplitOutcome(split, 'nope', { hs2: true, hs4: true, hs6: true })).toThrow(RangeError);
    expect(() => emptySplitState([{ id: 'a', role: 'challenger', share: 1 }])).toThrow(RangeError);
  });

  test('latency histogram percentiles interpolate geometrically within buckets', () => {
    let counts = emptyOperationalCounts();
    for (let i = 1; i <= 100; i++) counts = addRequest(counts, { latencyMs: i, error: false, review: false });
    // p95 of 1..100 ms is 95 ms: rank 95 is the 25th of 30 values in (70, 100], so 70 · (100/70)^(25/30) = 94.23.
    expect(histogramPercentile(counts.latencyHistogram, 0.95)).toBeCloseTo(94.23, 2);
    expect(histogramPercentile(counts.latencyHistogram, 0.5)).toBe(50);
    expect(histogramPercentile(emptyOperationalCounts().latencyHistogram, 0.95)).toBeNaN();
    expect(() => latencyBucketIndex(-1)).toThrow(RangeError);
  });
});

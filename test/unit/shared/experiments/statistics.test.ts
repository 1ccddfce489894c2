import {
  anovaOfProportions,
  mcnemarExact,
  oneWayAnova,
  pairedDifferenceInterval,
  twoProportionTest,
  wilsonInterval,
} from '../../../../shared/experiments/statistics';

describe('wilsonInterval', () => {
  test("Newcombe's (1998) examples: 81/263 and 0/10", () => {
    const interval = wilsonInterval({ successes: 81, trials: 263 });
    expect(interval.estimate).toBeCloseTo(81 / 263, 12);
    expect(interval.lower).toBeCloseTo(0.2553, 4);
    expect(interval.upper).toBeCloseTo(0.3662, 4);
    const zero = wilsonInterval({ successes: 0, trials: 10 });
    expect(zero.lower).toBe(0);
    expect(zero.upper).toBeCloseTo(0.2775, 4);
  });

  test('narrows with the confidence level and rejects empty arms', () => {
    const wide = wilsonInterval({ successes: 30, trials: 40 }, 0.99);
    const narrow = wilsonInterval({ successes: 30, trials: 40 }, 0.9);
    expect(wide.upper - wide.lower).toBeGreaterThan(narrow.upper - narrow.lower);
    expect(() => wilsonInterval({ successes: 0, trials: 0 })).toThrow(RangeError);
    expect(() => wilsonInterval({ successes: 5, trials: 4 })).toThrow(RangeError);
  });
});

describe('mcnemarExact', () => {
  test('hand-computed binomial tails', () => {
    // b = 1, c = 9: P(X ≤ 1 | 10, ½) = 11/1024; two-sided doubles it.
    const result = mcnemarExact(1, 9);
    expect(result.pTwoSided).toBeCloseTo(22 / 1024, 14);
    expect(result.pChallengerBetter).toBeCloseTo(11 / 1024, 14);
    expect(result.pChampionBetter).toBeCloseTo(1 - 1 / 1024, 14);
    // b = 0, c = 5: 2 / 32.
    expect(mcnemarExact(0, 5).pTwoSided).toBeCloseTo(0.0625, 14);
    expect(mcnemarExact(5, 0).pChampionBetter).toBeCloseTo(1 / 32, 14);
  });

  test('balanced or empty discordance gives p = 1', () => {
    expect(mcnemarExact(7, 7).pTwoSided).toBe(1);
    expect(mcnemarExact(0, 0)).toMatchObject({ pTwoSided: 1, pChallengerBetter: 1, pChampionBetter: 1 });
    expect(() => mcnemarExact(-1, 2)).toThrow(RangeError);
  });
});

describe('pairedDifferenceInterval', () => {
  test("Newcombe's (1998) paired example 36/12/2/0 (method 10: 0.0569 to 0.3404)", () => {
    // His difference is (a + b)/n − (a + c)/n; ours is challenger − champion, so the champion plays his first
    // margin: championOnly = 12, challengerOnly = 2 gives the mirrored interval.
    const interval = pairedDifferenceInterval({
      bothCorrect: 36,
      championOnly: 2,
      challengerOnly: 12,
      bothWrong: 0,
    });
    expect(interval.estimate).toBeCloseTo(0.2, 12);
    expect(interval.lower).toBeCloseTo(0.0569, 4);
    expect(interval.upper).toBeCloseTo(0.3404, 4);
  });

  test('contains zero when the discordant cells balance', () => {
    const interval = pairedDifferenceInterval({
      bothCorrect: 700,
      championOnly: 50,
      challengerOnly: 50,
      bothWrong: 200,
    });
    expect(interval.estimate).toBe(0);
    expect(interval.lower).toBeLessThan(0);
    expect(interval.upper).toBeGreaterThan(0);
  });
});

describe('twoProportionTest', () => {
  test("Newcombe's (1998) unpaired example 56/70 vs 48/80 (method 10: 0.0524 to 0.3339)", () => {
    const result = twoProportionTest({ successes: 56, trials: 70 }, { successes: 48, trials: 80 });
    expect(result.difference.estimate).toBeCloseTo(0.2, 12);
    expect(result.difference.lower).toBeCloseTo(0.0524, 4);
    expect(result.difference.upper).toBeCloseTo(0.3339, 4);
    // Pooled p = 104/150; SE = sqrt(p(1 − p)(1/70 + 1/80)) = 0.075467; z = 2.6502.
    expect(result.z).toBeCloseTo(2.6502, 4);
    expect(result.pChallengerBetter).toBeCloseTo(0.004024, 5);
    expect(result.pTwoSided).toBeCloseTo(2 * result.pChallengerBetter, 14);
    expect(result.pChampionBetter).toBeCloseTo(1 - result.pChallengerBetter, 14);
  });

  test('no variation means no evidence', () => {
    const result = twoProportionTest({ successes: 10, trials: 10 }, { successes: 20, trials: 20 });
    expect(result.z).toBe(0);
    expect(result.pTwoSided).toBe(1);
  });
});

describe('oneWayAnova', () => {
  test('hand example: groups 1,2,3 / 4,5,6 / 7,8,9 give F = 27 and p = 0.001', () => {
    const group = (values: number[]) => ({
      count: values.length,
      sum: values.reduce((s, v) => s + v, 0),
      sumOfSquares: values.reduce((s, v) => s + v * v, 0),
    });
    const result = oneWayAnova([group([1, 2, 3]), group([4, 5, 6]), group([7, 8, 9])]);
    expect(result.sumOfSquaresBetween).toBeCloseTo(54, 12);
    expect(result.sumOfSquaresWithin).toBeCloseTo(6, 12);
    expect(result.degreesOfFreedomBetween).toBe(2);
    expect(result.degreesOfFreedomWithin).toBe(6);
    expect(result.f).toBeCloseTo(27, 12);
    expect(result.pValue).toBeCloseTo(0.001, 12);
  });

  test('with two arms ANOVA is the pooled-variance t-test: F equals t²', () => {
    // 0/1 outcomes: 60/100 vs 45/100. t² from the pooled two-sample t-test, computed by hand.
    const result = anovaOfProportions([
      { successes: 60, trials: 100 },
      { successes: 45, trials: 100 },
    ]);
    const within = 60 - 60 * 0.6 + (45 - 45 * 0.45); // Σ (x − mean)² = n p (1 − p)
    const pooledVariance = within / 198;
    const t = 0.15 / Math.sqrt(pooledVariance * (2 / 100));
    expect(result.f).toBeCloseTo(t * t, 10);
  });

  test('identical arms: F = 0, p = 1; constant outcomes carry no evidence', () => {
    const same = anovaOfProportions([
      { successes: 30, trials: 40 },
      { successes: 30, trials: 40 },
      { successes: 30, trials: 40 },
    ]);
    expect(same.f).toBeCloseTo(0, 12);
    expect(same.pValue).toBeCloseTo(1, 12);
    const constant = anovaOfProportions([
      { successes: 5, trials: 5 },
      { successes: 9, trials: 9 },
      { successes: 3, trials: 3 },
    ]);
    expect(constant).toMatchObject({ f: 0, pValue: 1 });
    expect(() => oneWayAnova([{ count: 3, sum: 1, sumOfSquares: 1 }])).toThrow(RangeError);
  });
});

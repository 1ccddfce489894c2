import {
  CategoricalSampler,
  addCluster,
  binOf,
  checkLatencySlo,
  checkReviewRateSlo,
  clusteredRateEstimate,
  effectiveSampleSize,
  emptyClusteredRate,
  histogram,
  jensenShannonDivergence,
  jsAsymptoticPValue,
  nearestRankQuantile,
  populationStabilityIndex,
  psiAsymptoticPValue,
  quantileBinEdges,
  smoothTowards,
  smoothUniform,
  testDistributionShift,
  testRateIncrease,
  toProbabilities,
  type ClusteredRate,
} from '../../../../shared/monitoring/drift';
import { createRandom, type Random } from '../../../../shared/math/random';

/** A skewed 97-bin "chapter" distribution, like real declarations: a few chapters hold most lines. */
function skewedChapters(): Float64Array {
  const weights = Float64Array.from({ length: 97 }, (_, i) => 1 / (i + 1) ** 1.1);
  return toProbabilities(weights);
}

function draw(probabilities: Float64Array, n: number, rng: Random): Float64Array {
  const counts = new Float64Array(probabilities.length);
  new CategoricalSampler(probabilities).drawCounts(n, rng, counts);
  return counts;
}

describe('divergences: known values', () => {
  test('PSI of [0.5, 0.5] vs [0.25, 0.75] is 0.5·ln 3', () => {
    const psi = populationStabilityIndex(Float64Array.of(0.5, 0.5), Float64Array.of(0.25, 0.75));
    // (0.25−0.5)·ln(0.5) + (0.75−0.5)·ln(1.5) = 0.25·ln 3
    expect(psi).toBeCloseTo(0.25 * Math.log(3), 12);
  });

  test('JS of disjoint distributions is ln 2, of equal ones 0, and it is symmetric', () => {
    expect(jensenShannonDivergence(Float64Array.of(1, 0), Float64Array.of(0, 1))).toBeCloseTo(
      Math.log(2),
      12,
    );
    const p = Float64Array.of(0.2, 0.3, 0.5);
    const q = Float64Array.of(0.4, 0.4, 0.2);
    expect(jensenShannonDivergence(p, p)).toBe(0);
    expect(jensenShannonDivergence(p, q)).toBeCloseTo(jensenShannonDivergence(q, p), 15);
    // Hand computation: m = [0.3, 0.35, 0.35].
    const expected =
      0.5 * (0.2 * Math.log(0.2 / 0.3) + 0.3 * Math.log(0.3 / 0.35) + 0.5 * Math.log(0.5 / 0.35)) +
      0.5 * (0.4 * Math.log(0.4 / 0.3) + 0.4 * Math.log(0.4 / 0.35) + 0.2 * Math.log(0.2 / 0.35));
    expect(jensenShannonDivergence(p, q)).toBeCloseTo(expected, 14);
  });

  test('PSI refuses unsmoothed empty bins; smoothing makes it finite', () => {
    expect(() => populationStabilityIndex(Float64Array.of(0.5, 0.5), Float64Array.of(1, 0))).toThrow(
      /smooth/,
    );
    const reference = smoothUniform([10, 10, 0], 0.5);
    expect(Array.from(reference)).toEqual([10.5 / 21.5, 10.5 / 21.5, 0.5 / 21.5]);
    const window = smoothTowards([4, 0, 0], reference, 3);
    expect(window.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
    expect(window[1]! / window[2]!).toBeCloseTo(reference[1]! / reference[2]!, 12);
    expect(Number.isFinite(populationStabilityIndex(reference, window))).toBe(true);
  });

  test('for small shifts N·PSI and 8·N·JS both approach Pearson X²', () => {
    const p = Float64Array.of(0.2, 0.3, 0.5);
    const q = Float64Array.of(0.202, 0.298, 0.5);
    const pearson = 0.002 ** 2 / 0.2 + 0.002 ** 2 / 0.3;
    expect(populationStabilityIndex(p, q) / pearson).toBeCloseTo(1, 2);
    expect((8 * jensenShannonDivergence(p, q)) / pearson).toBeCloseTo(1, 2);
    expect(effectiveSampleSize(1000, 1000)).toBe(500);
    expect(effectiveSampleSize(1000)).toBe(1000);
    expect(psiAsymptoticPValue(0, 3, 1000)).toBe(1);
    // χ²(2) survival at 5.991 is 0.05.
    expect(psiAsymptoticPValue(5.991 / 1000, 3, 1000)).toBeCloseTo(0.05, 3);
    expect(jsAsymptoticPValue(5.991 / 8000, 3, 1000)).toBeCloseTo(0.05, 3);
  });
});

describe('categorical sampler', () => {
  test('draw frequencies match the probabilities', () => {
    const p = Float64Array.of(0.5, 0.3, 0.15, 0.05);
    const counts = draw(p, 200_000, createRandom(7));
    p.forEach((pi, i) => expect(counts[i]! / 200_000).toBeCloseTo(pi, 2));
  });
});

describe('testDistributionShift', () => {
  const reference = skewedChapters();

  test('a small window is not flagged for noise that a fixed 0.1 PSI cut-off would flag', () => {
    const referenceCounts = draw(reference, 2000, createRandom(1));
    const window = draw(reference, 200, createRandom(2));
    const result = testDistributionShift(referenceCounts, window, { seed: 3, simulations: 200 });
    expect(result.psi).toBeGreaterThan(0.1);
    expect(result.psiCritical).toBeGreaterThan(result.psi);
    expect(result.drifted).toBe(false);
  });

  test('false alarms on windows drawn from the reference stay at or below α across seeds', () => {
    const alpha = 0.1;
    const seeds = 100;
    let alarms = 0;
    for (let seed = 0; seed < seeds; seed++) {
      const rng = createRandom(1000 + seed);
      const referenceCounts = draw(reference, 1000, rng);
      const window = draw(reference, 150 + (seed % 4) * 150, rng);
      const result = testDistributionShift(referenceCounts, window, {
        seed,
        simulations: 50,
        falseAlarmRate: alpha,
        minimumPsi: 0,
      });
      if (result.drifted) alarms++;
    }
    // Binomial(100, 0.1): mean 10, P(X > 19) < 0.005.
    expect(alarms).toBeLessThanOrEqual(19);
    // Sanity: the test is not vacuous (it does alarm sometimes under the null, as a level-α test must).
    expect(alarms).toBeGreaterThan(0);
  });

  test('detects a real shift: mass moved from the top chapter to a rare one', () => {
    const shifted = Float64Array.from(reference);
    shifted[0] = shifted[0]! - 0.08;
    shifted[60] = shifted[60]! + 0.08;
    let detected = 0;
    for (let seed = 0; seed < 10; seed++) {
      const rng = createRandom(50 + seed);
      const result = testDistributionShift(draw(reference, 2000, rng), draw(shifted, 500, rng), {
        seed,
        simulations: 100,
      });
      if (result.drifted) detected++;
    }
    expect(detected).toBe(10);
  });

  test('the simulated critical value matches the chi-square one when every bin expects plenty', () => {
    const p = toProbabilities(new Array<number>(10).fill(1));
    const result = testDistributionShift(draw(p, 5000, createRandom(5)), draw(p, 1000, createRandom(6)), {
      seed: 9,
      simulations: 400,
      falseAlarmRate: 0.05,
      minimumPsi: 0,
    });
    // χ²(9) upper 5 % point is 16.919; N_eff = 1000·5000 / 6000.
    const asymptotic = 16.919 / effectiveSampleSize(1000, 5000);
    expect(result.psiCritical / asymptotic).toBeGreaterThan(0.85);
    expect(result.psiCritical / asymptotic).toBeLessThan(1.15);
    expect(psiAsymptoticPValue(asymptotic, 10, effectiveSampleSize(1000, 5000))).toBeCloseTo(0.05, 3);
  });

  test('is deterministic for a seed, and the practical floor suppresses tiny significant shifts', () => {
    const p = toProbabilities([0.5, 0.5]);
    const referenceCounts = Float64Array.of(500_000, 500_000);
    const window = Float64Array.of(2120, 1880);
    // The reference is taken as exact here, so only the window is redrawn in the simulation.
    const options = { seed: 4, simulations: 200, referenceIsSample: false };
    const a = testDistributionShift(referenceCounts, window, options);
    const b = testDistributionShift(referenceCounts, window, options);
    expect(a).toEqual(b);
    expect(a.psiPValue).toBeLessThan(0.01);
    expect(a.psi).toBeLessThan(0.1);
    expect(a.drifted).toBe(false);
    expect(p.length).toBe(2);
  });

  test('rejects mismatched bins and too few simulations for α', () => {
    expect(() => testDistributionShift([1, 2], [1, 2, 3])).toThrow(/bins/);
    expect(() => testDistributionShift([1, 2], [1, 2], { simulations: 50, falseAlarmRate: 0.01 })).toThrow(
      /simulations/,
    );
  });
});

describe('continuous binning', () => {
  test('quantile edges give equal-mass bins and merge ties', () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => i / 1000);
    const edges = quantileBinEdges(values, 10);
    expect(edges).toHaveLength(9);
    expect(Array.from(histogram(values, edges))).toEqual(new Array(10).fill(100));
    const tied = Float64Array.from({ length: 100 }, (_, i) => (i < 70 ? 1 : i / 100));
    expect(quantileBinEdges(tied, 10).length).toBeLessThan(9);
    expect(binOf(-1, [0, 1])).toBe(0);
    expect(binOf(0, [0, 1])).toBe(1);
    expect(binOf(5, [0, 1])).toBe(2);
  });

  test('a confidence drop is detected on reference-quantile bins; the same distribution is not', () => {
    const rng = createRandom(11);
    const beta = (shift: number) => Math.min(1, Math.max(0, 0.8 - shift + 0.15 * rng.normal()));
    const referenceValues = Float64Array.from({ length: 2000 }, () => beta(0));
    const edges = quantileBinEdges(referenceValues, 10);
    const reference = histogram(referenceValues, edges);
    const same = histogram(
      Float64Array.from({ length: 400 }, () => beta(0)),
      edges,
    );
    const dropped = histogram(
      Float64Array.from({ length: 400 }, () => beta(0.15)),
      edges,
    );
    expect(testDistributionShift(reference, same, { seed: 1, simulations: 200 }).drifted).toBe(false);
    expect(testDistributionShift(reference, dropped, { seed: 1, simulations: 200 }).drifted).toBe(true);
  });
});

describe('clustered rate test (OOV share)', () => {
  /** Records of 1–10 tokens whose own OOV probability varies (Beta-like), so tokens within a record correlate. */
  function simulate(records: number, meanRate: number, rng: Random): ClusteredRate {
    let rate = emptyClusteredRate();
    for (let i = 0; i < records; i++) {
      const tokens = 1 + rng.int(10);
      const recordRate = Math.min(1, Math.max(0, meanRate * 2 * rng.next()));
      let oov = 0;
      for (let t = 0; t < tokens; t++) if (rng.next() < recordRate) oov++;
      rate = addCluster(rate, oov, tokens);
    }
    return rate;
  }

  test('estimate and variance of a known small sample', () => {
    let rate = emptyClusteredRate();
    rate = addCluster(rate, 1, 2);
    rate = addCluster(rate, 0, 2);
    const { rate: r, variance } = clusteredRateEstimate(rate);
    expect(r).toBe(0.25);
    // residuals (1 − 0.5)² + (0 − 0.5)² = 0.5; / T² = 16; · n/(n−1) = 2
    expect(variance).toBeCloseTo((0.5 / 16) * 2, 15);
  });

  test('false alarms ≤ α across seeds, and a real OOV rise is detected', () => {
    const alpha = 0.1;
    let alarms = 0;
    let detected = 0;
    for (let seed = 0; seed < 100; seed++) {
      const rng = createRandom(seed);
      const reference = simulate(1000, 0.1, rng);
      const options = { falseAlarmRate: alpha, minimumIncrease: 0 };
      if (testRateIncrease(reference, simulate(300, 0.1, rng), options).drifted) alarms++;
      if (seed < 20 && testRateIncrease(reference, simulate(300, 0.2, rng), { falseAlarmRate: 0.01 }).drifted)
        detected++;
    }
    expect(alarms).toBeLessThanOrEqual(19);
    expect(detected).toBe(20);
  });
});

describe('SLOs', () => {
  test('review rate: a small window slightly over target is not a breach, a clear excess is', () => {
    expect(checkReviewRateSlo(24, 60, 0.35, 0.01).breached).toBe(false);
    const clear = checkReviewRateSlo(500, 1000, 0.35, 0.01);
    expect(clear.rate).toBe(0.5);
    expect(clear.breached).toBe(true);
    expect(checkReviewRateSlo(300, 1000, 0.35, 0.01).breached).toBe(false);
  });

  test('nearest-rank quantiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(nearestRankQuantile(sorted, 0.95)).toBe(95);
    expect(nearestRankQuantile(sorted, 0.99)).toBe(99);
    expect(nearestRankQuantile(Float64Array.of(7), 0.5)).toBe(7);
  });

  test('latency: counts requests over target and asks whether their share exceeds 1 − q beyond noise', () => {
    const within = Float64Array.from({ length: 1000 }, (_, i) => (i < 960 ? 100 : 900)).sort();
    const ok = checkLatencySlo(within, 0.95, 500, 0.01);
    expect(ok.observedMs).toBe(100);
    expect(ok.slower).toBe(40);
    expect(ok.breached).toBe(false);
    const slow = Float64Array.from({ length: 1000 }, (_, i) => (i < 880 ? 100 : 900)).sort();
    const breached = checkLatencySlo(slow, 0.95, 500, 0.01);
    expect(breached.observedMs).toBe(900);
    expect(breached.slower).toBe(120);
    expect(breached.breached).toBe(true);
    // Six slow requests in a hundred: p95 is over target, but 6 of 100 is well within Binomial(100, 0.05) noise.
    const few = Float64Array.from({ length: 100 }, (_, i) => (i < 94 ? 100 : 900)).sort();
    const noisy = checkLatencySlo(few, 0.95, 500, 0.01);
    expect(noisy.observedMs).toBe(900);
    expect(noisy.breached).toBe(false);
  });
});

import { createRandom } from '../../../../shared/math/random';
import {
  alwaysValidPValue,
  logMixtureEValue,
  pairedEvidence,
  splitEvidence,
} from '../../../../shared/experiments/sequential';

describe('logMixtureEValue', () => {
  test('hand value: uniform prior truncated to θ > ½, three successes out of three', () => {
    // E = [B(4, 1) · (1 − ½⁴)] / [B(1, 1) · ½] / ½³ = (1/4)(15/16) · 2 · 8 = 3.75.
    expect(logMixtureEValue(3, 3, 0.5, 'above', [2])).toBeCloseTo(Math.log(3.75), 12);
    expect(logMixtureEValue(0, 3, 0.5, 'below', [2])).toBeCloseTo(Math.log(3.75), 12);
    // Evidence for the wrong side is tiny: E = [B(1, 4) · (½⁴)] · 2 · 8 = 1/4 · 1/16 · 16 = 0.25.
    expect(logMixtureEValue(0, 3, 0.5, 'above', [2])).toBeCloseTo(Math.log(0.25), 12);
  });

  test('no data is no evidence; invalid input throws', () => {
    expect(logMixtureEValue(0, 0, 0.3, 'above')).toBe(0);
    expect(() => logMixtureEValue(4, 3, 0.5, 'above')).toThrow(RangeError);
    expect(() => logMixtureEValue(1, 3, 1, 'above')).toThrow(RangeError);
    expect(() => logMixtureEValue(1, 3, 0.5, 'above', [])).toThrow(RangeError);
  });

  test('Ville: under the null, the e-value checked after every label crosses 1/α in at most α of runs', () => {
    const rng = createRandom(2024);
    const runs = 150;
    let crossed = 0;
    for (let run = 0; run < runs; run++) {
      let successes = 0;
      for (let n = 1; n <= 400; n++) {
        if (rng.next() < 0.3) successes++;
        if (logMixtureEValue(successes, n, 0.3, 'above') >= Math.log(20)) {
          crossed++;
          break;
        }
      }
    }
    // Ville bounds the rate by 0.05; the mixture is conservative, so it is far below.
    expect(crossed / runs).toBeLessThanOrEqual(0.05);
  });

  test('grows without bound under the alternative', () => {
    const rng = createRandom(7);
    let successes = 0;
    for (let n = 0; n < 1000; n++) if (rng.next() < 0.6) successes++;
    expect(logMixtureEValue(successes, 1000, 0.5, 'above')).toBeGreaterThan(Math.log(1000));
    expect(logMixtureEValue(successes, 1000, 0.5, 'below')).toBeLessThan(0);
  });
});

describe('pairedEvidence and splitEvidence', () => {
  test('paired evidence points the way the discordant pairs do', () => {
    const better = pairedEvidence(40, 80);
    expect(better.logEChallengerBetter).toBeGreaterThan(Math.log(20));
    expect(better.logEChallengerWorse).toBeLessThan(0);
    const worse = pairedEvidence(80, 40);
    expect(worse.logEChallengerWorse).toBeCloseTo(better.logEChallengerBetter, 10);
    expect(alwaysValidPValue(better.logEChallengerBetter)).toBeLessThan(0.05);
    expect(alwaysValidPValue(-3)).toBe(1);
  });

  test('split evidence is symmetric in arms at a 50/50 split and detects a clear gain', () => {
    const forward = splitEvidence({ successes: 850, trials: 1000 }, { successes: 750, trials: 1000 }, 0.5);
    const backward = splitEvidence({ successes: 750, trials: 1000 }, { successes: 850, trials: 1000 }, 0.5);
    expect(forward.logEChallengerBetter).toBeCloseTo(backward.logEChallengerWorse, 10);
    expect(forward.logEChallengerBetter).toBeGreaterThan(Math.log(1000));
  });

  test('split evidence under equal accuracy and an uneven 20 % split stays valid', () => {
    const rng = createRandom(99);
    const runs = 100;
    let crossed = 0;
    for (let run = 0; run < runs; run++) {
      const challenger = { successes: 0, trials: 0 };
      const champion = { successes: 0, trials: 0 };
      for (let batch = 0; batch < 100; batch++) {
        for (let i = 0; i < 20; i++) {
          const arm = rng.next() < 0.2 ? challenger : champion;
          arm.trials++;
          if (rng.next() < 0.9) arm.successes++;
        }
        if (splitEvidence(challenger, champion, 0.2).logEChallengerBetter >= Math.log(20)) {
          crossed++;
          break;
        }
      }
    }
    expect(crossed / runs).toBeLessThanOrEqual(0.05);
  });
});

import {
  binomialCdf,
  binomialSurvival,
  chiSquareSurvival,
  fSurvival,
  logBeta,
  logGamma,
  normalCdf,
  normalQuantile,
  normalSurvival,
  regularizedGamma,
  regularizedIncompleteBeta,
  regularizedIncompleteBetaComplement,
} from '../../../../shared/math/distributions';

function expectRelativelyClose(actual: number, expected: number, relativeTolerance = 1e-10): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(relativeTolerance * Math.abs(expected));
}

describe('logGamma', () => {
  test('matches factorials and Γ(½) = √π', () => {
    expect(Math.abs(logGamma(1))).toBeLessThan(1e-14);
    expect(Math.abs(logGamma(2))).toBeLessThan(1e-14);
    expectRelativelyClose(logGamma(10), Math.log(362880));
    expectRelativelyClose(logGamma(0.5), 0.5 * Math.log(Math.PI));
    expectRelativelyClose(logGamma(171), 706.5730622457874, 1e-12); // ln(170!)
    expectRelativelyClose(logGamma(0.1), Math.log(9.513507698668732));
  });

  test('rejects non-positive arguments', () => {
    expect(() => logGamma(0)).toThrow(RangeError);
    expect(() => logGamma(-1)).toThrow(RangeError);
  });

  test('logBeta(2, 3) = ln(1/12)', () => {
    expectRelativelyClose(logBeta(2, 3), Math.log(1 / 12));
  });
});

describe('regularizedIncompleteBeta', () => {
  test('closed forms: I_x(a, 1) = x^a, I_x(1, b) = 1 − (1 − x)^b, I_½(a, a) = ½', () => {
    for (const [x, a] of [
      [0.3, 2.5],
      [0.9, 7],
      [0.01, 0.5],
    ] as const) {
      expectRelativelyClose(regularizedIncompleteBeta(x, a, 1), x ** a);
      expectRelativelyClose(regularizedIncompleteBeta(x, 1, a), 1 - (1 - x) ** a);
    }
    for (const a of [0.5, 3, 40, 2500])
      expectRelativelyClose(regularizedIncompleteBeta(0.5, a, a), 0.5, 1e-9);
  });

  test('complement stays accurate far in the tail', () => {
    // 1 − I_x(1, b) = (1 − x)^b exactly; at b = 200, x = 0.2 that is ~4e−20, far below double cancellation.
    expectRelativelyClose(regularizedIncompleteBetaComplement(0.2, 1, 200), 0.8 ** 200, 1e-9);
  });

  test('validates its domain', () => {
    expect(() => regularizedIncompleteBeta(1.1, 1, 1)).toThrow(RangeError);
    expect(() => regularizedIncompleteBeta(0.5, 0, 1)).toThrow(RangeError);
    expect(regularizedIncompleteBeta(0, 2, 2)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 2)).toBe(1);
  });
});

describe('regularizedGamma', () => {
  test('P(1, x) = 1 − e^{−x} on both branches', () => {
    for (const x of [0.1, 1.5, 2.5, 30]) {
      const { lower, upper } = regularizedGamma(1, x);
      expectRelativelyClose(upper, Math.exp(-x));
      expectRelativelyClose(lower, -Math.expm1(-x));
    }
  });
});

describe('normal distribution', () => {
  test('table values', () => {
    expectRelativelyClose(normalCdf(0), 0.5, 1e-15);
    expectRelativelyClose(normalCdf(1.96), 0.9750021048517795, 1e-12);
    expectRelativelyClose(normalCdf(-1), 0.15865525393145707, 1e-12);
    expectRelativelyClose(normalSurvival(5), 2.866515718791939e-7, 1e-9);
    expectRelativelyClose(normalSurvival(10), 7.619853024160527e-24, 1e-8);
  });

  test('quantiles invert the CDF', () => {
    expectRelativelyClose(normalQuantile(0.975), 1.959963984540054, 1e-12);
    expectRelativelyClose(normalQuantile(0.95), 1.6448536269514722, 1e-12);
    expectRelativelyClose(normalQuantile(0.001), -3.090232306167813, 1e-12);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 14);
    for (const p of [1e-12, 1e-6, 0.01, 0.3, 0.7, 0.999]) {
      expectRelativelyClose(normalCdf(normalQuantile(p)), p, 1e-10);
    }
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
  });
});

describe('chi-square, F and binomial tails', () => {
  test('chi-square critical values from the table', () => {
    expectRelativelyClose(chiSquareSurvival(3.841458820694124, 1), 0.05, 1e-10);
    expectRelativelyClose(chiSquareSurvival(10.827566170662733, 1), 0.001, 1e-9);
    expectRelativelyClose(chiSquareSurvival(5.991464547107979, 2), 0.05, 1e-10);
    // Two degrees of freedom: the tail is exactly e^{−x/2}.
    expectRelativelyClose(chiSquareSurvival(13, 2), Math.exp(-6.5));
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  test('F tails: closed form for d1 = 2 and table critical value', () => {
    // For d1 = 2: P(F ≥ f) = (1 + 2f/d2)^(−d2/2).
    expectRelativelyClose(fSurvival(27, 2, 6), 0.001, 1e-10);
    expectRelativelyClose(fSurvival(3.5, 2, 17), (1 + 7 / 17) ** -8.5, 1e-10);
    // F(0.95; 3, 20) = 3.098391 from the table.
    expect(fSurvival(3.098391, 3, 20)).toBeCloseTo(0.05, 6);
    expect(fSurvival(0, 3, 20)).toBe(1);
  });

  test('binomial tails equal direct sums', () => {
    const choose = (n: number, k: number): number => {
      let value = 1;
      for (let i = 1; i <= k; i++) value = (value * (n - k + i)) / i;
      return value;
    };
    const n = 17;
    const p = 0.3;
    const mass = (k: number): number => choose(n, k) * p ** k * (1 - p) ** (n - k);
    for (let k = 0; k <= n; k++) {
      let lowerSum = 0;
      for (let i = 0; i <= k; i++) lowerSum += mass(i);
      let upperSum = 0;
      for (let i = k; i <= n; i++) upperSum += mass(i);
      expectRelativelyClose(binomialCdf(k, n, p), Math.min(1, lowerSum), 1e-10);
      expectRelativelyClose(binomialSurvival(k, n, p), Math.min(1, upperSum), 1e-10);
    }
    // Hand value: P(X ≤ 1) for n = 10, p = ½ is 11/1024.
    expectRelativelyClose(binomialCdf(1, 10, 0.5), 11 / 1024, 1e-12);
    expect(binomialCdf(-1, 10, 0.5)).toBe(0);
    expect(binomialSurvival(0, 10, 0.5)).toBe(1);
    expect(binomialSurvival(11, 10, 0.5)).toBe(0);
  });
});

import {
  pairedBootstrapAccuracyDifference,
  quantileOfSorted,
} from '../../../../training/evaluation/bootstrap';

describe('pairedBootstrapAccuracyDifference', () => {
  // 100 items: A right on 60; B right on the same 60 and on 10 more.
  const a = Uint8Array.from({ length: 100 }, (_, i) => (i < 60 ? 1 : 0));
  const b = Uint8Array.from({ length: 100 }, (_, i) => (i < 70 ? 1 : 0));

  it('brackets the true difference and excludes 0 for a clear improvement', () => {
    const r = pairedBootstrapAccuracyDifference(a, b, { seed: 1 });
    expect(r.difference).toBeCloseTo(0.1, 12);
    // Binomial(100, 0.1) / 100 has sd 0.03: the 95 % interval is about [0.04, 0.16].
    expect(r.lower).toBeGreaterThan(0.03);
    expect(r.lower).toBeLessThan(0.07);
    expect(r.upper).toBeGreaterThan(0.13);
    expect(r.upper).toBeLessThan(0.17);
    expect(r.probabilityNotBetter).toBeLessThan(0.01);
  });

  it('is deterministic for a seed and centred on 0 for identical models', () => {
    expect(pairedBootstrapAccuracyDifference(a, b, { seed: 4 })).toEqual(
      pairedBootstrapAccuracyDifference(a, b, { seed: 4 }),
    );
    const same = pairedBootstrapAccuracyDifference(a, a, { seed: 4 });
    expect([same.difference, same.lower, same.upper, same.probabilityNotBetter]).toEqual([0, 0, 0, 1]);
  });

  it('refuses unpaired input', () => {
    expect(() => pairedBootstrapAccuracyDifference(a, b.subarray(1))).toThrow(/same items/);
  });

  it('interpolates quantiles', () => {
    expect(quantileOfSorted(Float64Array.from([0, 1, 2, 3]), 0.5)).toBeCloseTo(1.5, 12);
  });
});

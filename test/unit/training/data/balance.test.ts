import { classWeights, upsampleMinorityClasses } from '../../../../training/data/balance';

const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2]); // sizes 10, 3, 1

function countsOf(rows: Int32Array): number[] {
  const counts = [0, 0, 0];
  for (const r of rows) counts[labels[r]!]!++;
  return counts;
}

describe('upsampleMinorityClasses', () => {
  it('brings every class up to minCount, keeping every original row', () => {
    const rows = upsampleMinorityClasses(labels, { minCount: 5, seed: 1 });
    expect(countsOf(rows)).toEqual([10, 5, 5]);
    for (let r = 0; r < labels.length; r++) expect(rows).toContain(r);
  });

  it('spreads copies evenly: 3 rows up to 7 means each row twice plus one row a third time', () => {
    const rows = upsampleMinorityClasses(labels, { minCount: 7, seed: 2 });
    const perRow = [10, 11, 12].map((r) => [...rows].filter((x) => x === r).length).sort();
    expect(perRow).toEqual([2, 2, 3]);
  });

  it('supports a ratio of the largest class and a multiplier cap', () => {
    expect(countsOf(upsampleMinorityClasses(labels, { minRatio: 0.6 }))).toEqual([10, 6, 6]);
    expect(countsOf(upsampleMinorityClasses(labels, { minRatio: 0.6, maxMultiplier: 3 }))).toEqual([
      10, 6, 3,
    ]);
  });

  it('works on a subset of rows, is seeded and shuffles', () => {
    const subset = Int32Array.from([0, 1, 2, 10, 13]);
    const rows = upsampleMinorityClasses(labels, { minCount: 2, seed: 5 }, subset);
    expect(countsOf(rows)).toEqual([3, 2, 2]);
    expect([...rows]).toEqual([...upsampleMinorityClasses(labels, { minCount: 2, seed: 5 }, subset)]);
    expect([...rows]).not.toEqual([...rows].sort((a, b) => a - b));
  });
});

describe('classWeights', () => {
  it('computes smoothed inverse-frequency weights with mean 1 over the rows', () => {
    const w = classWeights(labels, 4, { power: 1, smoothing: 0, maxWeight: 100 });
    // raw 1/10, 1/3, 1/1; rows weigh 10·0.1 + 3·(1/3) + 1·1 = 3, so scale = 14 / 3.
    expect(w[0]).toBeCloseTo(14 / 30, 6);
    expect(w[1]).toBeCloseTo(14 / 9, 6);
    expect(w[2]).toBeCloseTo(14 / 3, 6);
    expect(w[3]).toBe(0);
    const mean = [...labels].reduce((s, c) => s + w[c]!, 0) / labels.length;
    expect(mean).toBeCloseTo(1, 6);
  });

  it('square-root default is flatter, and maxWeight caps', () => {
    const w = classWeights(labels, 3);
    expect(w[2]! / w[0]!).toBeCloseTo(Math.sqrt(11 / 2), 5);
    expect(Math.max(...classWeights(labels, 3, { power: 1, smoothing: 0, maxWeight: 2 }))).toBe(2);
  });
});

import { stratifiedSplit } from '../../../../training/data/split';

/** Labels with class c repeated sizes[c] times, interleaved so classes are not contiguous. */
function makeLabels(sizes: number[]): Int32Array {
  const out: number[] = [];
  const left = [...sizes];
  while (left.some((n) => n > 0)) left.forEach((n, c) => n > 0 && (out.push(c), left[c]!--));
  return Int32Array.from(out);
}

describe('stratifiedSplit', () => {
  const sizes = [1, 2, 3, 10, 40, 100];
  const labels = makeLabels(sizes);

  it('partitions the rows and keeps every class with ≥ 2 rows on both sides', () => {
    const { train, validation } = stratifiedSplit(labels, { validationFraction: 0.2, seed: 7 });
    expect(train.length + validation.length).toBe(labels.length);
    expect(new Set([...train, ...validation]).size).toBe(labels.length);
    const count = (rows: Int32Array, c: number): number => [...rows].filter((r) => labels[r] === c).length;
    expect(sizes.map((_, c) => count(validation, c))).toEqual([0, 1, 1, 2, 8, 20]);
    expect(sizes.map((_, c) => count(train, c))).toEqual([1, 1, 2, 8, 32, 80]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = stratifiedSplit(labels, { validationFraction: 0.2, seed: 1 });
    const b = stratifiedSplit(labels, { validationFraction: 0.2, seed: 1 });
    const c = stratifiedSplit(labels, { validationFraction: 0.2, seed: 2 });
    expect([...a.validation]).toEqual([...b.validation]);
    expect([...a.validation]).not.toEqual([...c.validation]);
  });

  it('returns ascending indices and refuses a bad fraction', () => {
    const { train } = stratifiedSplit(labels, { seed: 3 });
    expect([...train]).toEqual([...train].sort((x, y) => x - y));
    expect(() => stratifiedSplit(labels, { validationFraction: 1 })).toThrow();
  });

  it('keeps rows with the same group key on the same side', () => {
    // Class 0: groups a (3 rows), b, c, d; class 1: groups e, f (2 rows).
    const grouped = Int32Array.from([0, 0, 0, 0, 0, 0, 1, 1, 1]);
    const groupKeys = ['a', 'a', 'b', 'a', 'c', 'd', 'e', 'f', 'f'];
    for (let seed = 0; seed < 20; seed++) {
      const { train, validation } = stratifiedSplit(grouped, { validationFraction: 0.3, seed, groupKeys });
      const side = (row: number): string =>
        validation.includes(row) ? 'v' : train.includes(row) ? 't' : '?';
      expect(new Set([0, 1, 3].map(side)).size).toBe(1);
      expect(side(7)).toBe(side(8));
      expect(side(6)).not.toBe(side(7));
      expect([0, 1, 2, 3, 4, 5].some((r) => side(r) === 'v')).toBe(true);
      expect([0, 1, 2, 3, 4, 5].some((r) => side(r) === 't')).toBe(true);
    }
  });
});

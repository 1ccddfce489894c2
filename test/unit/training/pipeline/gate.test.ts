import { DEFAULT_GATE_POLICY, gate } from '../../../../training/pipeline/gate';
import { createRandom } from '../../../../shared/math/random';

/** Correctness vectors with a given accuracy, seeded. */
function outcomes(n: number, accuracy: number, seed: number): Uint8Array {
  const rng = createRandom(seed);
  return Uint8Array.from({ length: n }, () => (rng.next() < accuracy ? 1 : 0));
}

describe('gate', () => {
  const n = 1000;
  const chapters = Array.from({ length: n }, (_, i) => (i < 600 ? '84' : i < 900 ? '61' : '09'));
  const policy = { ...DEFAULT_GATE_POLICY, resamples: 500 };

  it('passes a clearly better candidate and judges only large chapters', () => {
    const checks = gate({ candidate: outcomes(n, 0.9, 1), champion: outcomes(n, 0.6, 2), chapters }, policy);
    expect(checks.map((c) => c.name)).toEqual(['overall', 'chapter 61', 'chapter 84']);
    expect(checks.every((c) => c.passed)).toBe(true);
    expect(checks[0]!.difference).toBeGreaterThan(0.2);
  });

  it('passes an identical candidate (a zero difference is inside any tolerance)', () => {
    const same = outcomes(n, 0.8, 3);
    expect(gate({ candidate: same, champion: same, chapters }, policy).every((c) => c.passed)).toBe(true);
  });

  it('fails a candidate that is worse in one large chapter only', () => {
    const champion = outcomes(n, 0.85, 4);
    const candidate = champion.slice();
    // Break 15 % of chapter 84's rows that the champion gets right.
    let broken = 0;
    for (let i = 0; i < 600 && broken < 90; i++) {
      if (candidate[i] === 1) {
        candidate[i] = 0;
        broken++;
      }
    }
    for (let i = 600; i < n; i++) if (candidate[i] === 0) candidate[i] = 1;
    const checks = gate({ candidate, champion, chapters }, policy);
    const byName = Object.fromEntries(checks.map((c) => [c.name, c.passed]));
    expect(byName['chapter 84']).toBe(false);
    expect(byName['chapter 61']).toBe(true);
  });

  it('includes the golden set and rejects mismatched inputs', () => {
    const good = outcomes(200, 0.9, 5);
    const checks = gate(
      {
        candidate: outcomes(n, 0.8, 6),
        champion: outcomes(n, 0.8, 6),
        chapters,
        golden: { candidate: outcomes(200, 0.5, 7), champion: good },
      },
      policy,
    );
    expect(checks.at(-1)!.name).toBe('golden set');
    expect(checks.at(-1)!.passed).toBe(false);
    expect(() => gate({ candidate: new Uint8Array(3), champion: new Uint8Array(4), chapters: [] })).toThrow(
      /same test rows/,
    );
  });
});

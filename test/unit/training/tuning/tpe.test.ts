import { createRandom } from '../../../../shared/math/random';
import {
  sampleUniform,
  validateSpace,
  type Params,
  type SearchSpace,
} from '../../../../training/tuning/space';
import { normalCdf, proposeTrials, rankTrials, runTuning, suggest } from '../../../../training/tuning/tpe';

const quadraticSpace: SearchSpace = {
  x: { type: 'float', low: -5, high: 5 },
  y: { type: 'float', low: -5, high: 5 },
};
const quadratic = (p: Params): number => ((p.x as number) - 1.3) ** 2 + ((p.y as number) + 2.1) ** 2;

async function bestOf(options: { nStartup: number; seed: number; budget: number }): Promise<number> {
  const outcome = await runTuning(
    {
      space: quadraticSpace,
      budget: options.budget,
      seed: options.seed,
      nStartup: options.nStartup,
      direction: 'minimize',
    },
    async (trial) => ({ score: quadratic(trial.params) }),
  );
  return outcome.best!.result.score;
}

describe('TPE', () => {
  it('beats random search on a 2-D quadratic with the same budget, over several seeds', async () => {
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    const tpe = await Promise.all(seeds.map((seed) => bestOf({ nStartup: 10, seed, budget: 50 })));
    // nStartup ≥ budget makes every trial a uniform draw: plain random search.
    const random = await Promise.all(seeds.map((seed) => bestOf({ nStartup: 1000, seed, budget: 50 })));
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(tpe)).toBeLessThan(mean(random) / 3);
    expect(tpe.filter((v, i) => v < random[i]!).length).toBeGreaterThanOrEqual(6);
  });

  it('is deterministic for a seed, also with parallel batches', async () => {
    const run = (seed: number) =>
      runTuning(
        { space: quadraticSpace, budget: 20, parallelism: 4, seed, nStartup: 5, direction: 'minimize' },
        async (t) => ({
          score: quadratic(t.params),
        }),
      );
    const [a, b, c] = await Promise.all([run(9), run(9), run(10)]);
    expect(a.history).toEqual(b.history);
    expect(a.history).not.toEqual(c.history);
    expect(a.history.map((h) => h.trial.id)).toEqual([...Array(20).keys()]);
  });

  it('proposes distinct trials within a batch, as a pure function of its inputs', () => {
    const batch = proposeTrials(quadraticSpace, [], 3, 42, 7);
    expect(batch.map((t) => t.id)).toEqual([7, 8, 9]);
    expect(new Set(batch.map((t) => JSON.stringify(t.params))).size).toBe(3);
    expect(new Set(batch.map((t) => t.seed)).size).toBe(3);
    expect(proposeTrials(quadraticSpace, [], 3, 42, 7)).toEqual(batch);
  });

  it('handles int, log-scale and categorical parameters and learns the good category', async () => {
    const space: SearchSpace = {
      layers: { type: 'int', low: 1, high: 4 },
      lr: { type: 'float', low: 1e-4, high: 1e-1, log: true },
      width: { type: 'int', low: 16, high: 512, log: true },
      arch: { type: 'categorical', choices: ['cnn', 'fasttext', 'transformer'] },
    };
    const objective = (p: Params): number =>
      (p.arch === 'fasttext' ? 1 : 0) -
      Math.abs(Math.log10(p.lr as number) + 2) -
      Math.abs((p.layers as number) - 2);
    const outcome = await runTuning({ space, budget: 60, seed: 3 }, async (trial) => {
      expect(Number.isInteger(trial.params.layers)).toBe(true);
      expect(trial.params.width as number).toBeGreaterThanOrEqual(16);
      expect(trial.params.width as number).toBeLessThanOrEqual(512);
      expect(trial.params.lr as number).toBeGreaterThanOrEqual(1e-4);
      return { score: objective(trial.params) };
    });
    const late = outcome.history.slice(30).filter((h) => h.trial.params.arch === 'fasttext').length;
    expect(late).toBeGreaterThan(15);
    expect(outcome.best!.trial.params.arch).toBe('fasttext');
  });

  it('ranks failed trials last and ignores them as good examples', () => {
    const history = [0.5, Number.NaN, 0.9, 0.1].map((score, id) => ({
      trial: { id, params: { x: id, y: 0 }, seed: id },
      result: { id, score },
    }));
    expect(rankTrials(history).map((h) => h.trial.id)).toEqual([2, 0, 3, 1]);
    expect(rankTrials(history, 'minimize').map((h) => h.trial.id)).toEqual([3, 0, 2, 1]);
    const params = suggest(quadraticSpace, history, createRandom(1), { nStartup: 2 });
    expect(params.x as number).toBeGreaterThanOrEqual(-5);
  });

  it('validates spaces and samples inside them', () => {
    expect(() => validateSpace({ a: { type: 'float', low: 1, high: 0 } })).toThrow(/low ≤ high/);
    expect(() => validateSpace({ a: { type: 'float', low: 0, high: 1, log: true } })).toThrow(/log scale/);
    expect(() => validateSpace({ a: { type: 'categorical', choices: [] } })).toThrow(/no choices/);
    const rng = createRandom(5);
    for (let i = 0; i < 200; i++) {
      const p = sampleUniform({ n: { type: 'int', low: 1, high: 3 } }, rng);
      expect([1, 2, 3]).toContain(p.n);
    }
  });

  it('normal CDF is accurate', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
  });
});

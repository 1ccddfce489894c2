/**
 * Seeded pseudo-random numbers. Training, splitting, up-sampling and tuning all draw from this so that the same
 * data, seed and settings give the same result on the same machine.
 */

/** A generator of uniform floats in [0, 1). */
export interface Random {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** The generator's full state, for checkpoints. */
  state(): number;
}

/**
 * Mulberry32: 32-bit state, fast, passes the usual statistical batteries well enough for shuffling and
 * initialisation, and its state fits in one number, which makes checkpoints trivial.
 */
export function createRandom(seed: number, state?: number): Random {
  let s = (state ?? seed) >>> 0;
  let spareNormal: number | undefined;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    normal: () => {
      if (spareNormal !== undefined) {
        const v = spareNormal;
        spareNormal = undefined;
        return v;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spareNormal = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    state: () => s,
  };
}

/** Fisher–Yates shuffle in place, driven by `rng`. */
export function shuffleInPlace<T>(items: T[] | Int32Array, rng: Random): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}

/**
 * Drift and SLO statistics for production monitoring: population stability index (PSI) and Jensen–Shannon
 * divergence between a training reference and a window of predictions, over categorical bins (predicted chapter)
 * and binned continuous values (top-1 confidence); a one-sided test for a rate (out-of-vocabulary share); and
 * review-rate and latency SLO checks.
 *
 * Every check pairs a statistic with a threshold that depends on the window size. A fixed PSI cut-off (the
 * folklore 0.1 / 0.25) flags small windows for sampling noise alone: with 97 chapters and 200 predictions, PSI of
 * samples drawn from the reference itself is around 0.3. So each drift test computes the distribution of the
 * statistic under "no drift" at this window size (Monte Carlo from the reference, seeded) and alarms only above
 * its (1 − α) quantile and above a practical effect floor, which stops huge windows from alarming on shifts too
 * small to matter. The asymptotic chi-square p-values (N_eff·PSI ≈ χ²(k−1), 8·N_eff·JS ≈ χ²(k−1)) are reported too;
 * they agree with the simulation when every bin expects enough counts.
 */
import { binomialSurvival, chiSquareSurvival, normalSurvival } from '../math/distributions';
import { createRandom, type Random } from '../math/random';

/** Counts divided by their total. Throws on an empty or negative histogram: there is no distribution. */
export function toProbabilities(counts: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (!(c >= 0)) throw new RangeError(`bin ${i} has count ${c}; counts must be non-negative`);
    total += c;
  }
  if (total <= 0) throw new RangeError('cannot form a distribution from an empty histogram');
  return Float64Array.from(counts, (c) => c / total);
}

/**
 * Additive smoothing (c + α) / (N + kα) for the reference: a chapter never predicted on the held-out set still
 * gets a little mass, so PSI stays finite when production predicts it.
 */
export function smoothUniform(counts: ArrayLike<number>, pseudoCount: number): Float64Array {
  if (!(pseudoCount > 0)) throw new RangeError(`pseudoCount must be > 0, got ${pseudoCount}`);
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  const denominator = total + counts.length * pseudoCount;
  return Float64Array.from(counts, (c) => (c + pseudoCount) / denominator);
}

/**
 * Smoothing of a window towards the reference: (x_i + s·r_i) / (N + s). Empty bins get mass in proportion to the
 * reference rather than uniformly, so smoothing itself adds no shift towards uniform that could look like drift.
 * `strength` is the number of pseudo-observations s.
 */
export function smoothTowards(
  counts: ArrayLike<number>,
  prior: Float64Array,
  strength: number,
): Float64Array {
  if (counts.length !== prior.length) {
    throw new RangeError(`histogram has ${counts.length} bins, the prior ${prior.length}`);
  }
  if (!(strength > 0)) throw new RangeError(`smoothing strength must be > 0, got ${strength}`);
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  const denominator = total + strength;
  return Float64Array.from(counts, (c, i) => (c + strength * prior[i]!) / denominator);
}

function checkSameLength(p: Float64Array, q: Float64Array): void {
  if (p.length !== q.length)
    throw new RangeError(`distributions differ in length: ${p.length} vs ${q.length}`);
}

/**
 * PSI = Σ (q_i − p_i) · ln(q_i / p_i), the symmetrised Kullback–Leibler divergence (nats). Both distributions must
 * be strictly positive wherever either is: smooth first.
 */
export function populationStabilityIndex(reference: Float64Array, current: Float64Array): number {
  checkSameLength(reference, current);
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const p = reference[i]!;
    const q = current[i]!;
    if (p === q) continue;
    if (!(p > 0) || !(q > 0)) {
      throw new RangeError(`PSI needs positive probabilities; bin ${i} has ${p} vs ${q} (smooth first)`);
    }
    sum += (q - p) * Math.log(q / p);
  }
  return sum;
}

/** Jensen–Shannon divergence in nats (bounded by ln 2); zero bins are fine, 0·ln 0 = 0. */
export function jensenShannonDivergence(p: Float64Array, q: Float64Array): number {
  checkSameLength(p, q);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!;
    const b = q[i]!;
    const m = 0.5 * (a + b);
    if (a > 0) sum += 0.5 * a * Math.log(a / m);
    if (b > 0) sum += 0.5 * b * Math.log(b / m);
  }
  return Math.max(0, sum);
}

/**
 * 1 / N_eff = 1 / N + 1 / M: the window (N) and, when the reference is itself a sample, the reference (M) both
 * contribute sampling noise to the difference of their histograms.
 */
export function effectiveSampleSize(windowSize: number, referenceSize?: number): number {
  if (referenceSize === undefined || !Number.isFinite(referenceSize)) return windowSize;
  return (windowSize * referenceSize) / (windowSize + referenceSize);
}

/** Asymptotic p-value of PSI under no drift: N_eff·PSI ≈ χ²(k − 1) (PSI ≈ Pearson X² / N for small shifts). */
export function psiAsymptoticPValue(psi: number, bins: number, effectiveSize: number): number {
  return chiSquareSurvival(effectiveSize * psi, Math.max(1, bins - 1));
}

/** Asymptotic p-value of JS under no drift: 8·N_eff·JS ≈ χ²(k − 1) (JS ≈ X² / (8N) for small shifts). */
export function jsAsymptoticPValue(js: number, bins: number, effectiveSize: number): number {
  return chiSquareSurvival(8 * effectiveSize * js, Math.max(1, bins - 1));
}

/**
 * Vose's alias table: draws from a categorical distribution in O(1), which keeps a thousand simulated windows of
 * tens of thousands of predictions within a timer run.
 */
export class CategoricalSampler {
  readonly #probability: Float64Array;
  readonly #alias: Int32Array;

  constructor(probabilities: Float64Array) {
    const k = probabilities.length;
    if (k === 0) throw new RangeError('cannot sample from zero bins');
    this.#probability = new Float64Array(k);
    this.#alias = new Int32Array(k);
    const scaled = Float64Array.from(probabilities, (p) => p * k);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((value, i) => (value < 1 ? small : large).push(i));
    while (small.length > 0 && large.length > 0) {
      const less = small.pop()!;
      const more = large.pop()!;
      this.#probability[less] = scaled[less]!;
      this.#alias[less] = more;
      scaled[more] = scaled[more]! + scaled[less]! - 1;
      (scaled[more] < 1 ? small : large).push(more);
    }
    // Leftovers are 1 up to rounding.
    for (const i of [...small, ...large]) this.#probability[i] = 1;
  }

  /** Fills `counts` (zeroed first) with a multinomial draw of `n` items. */
  drawCounts(n: number, rng: Random, counts: Float64Array): void {
    counts.fill(0);
    const k = this.#probability.length;
    for (let draw = 0; draw < n; draw++) {
      const u = rng.next() * k;
      const bin = Math.floor(u);
      const index = u - bin < this.#probability[bin]! ? bin : this.#alias[bin]!;
      counts[index] = counts[index]! + 1;
    }
  }
}

export interface DriftTestOptions {
  /** Probability of alarming on a window drawn from the reference itself (α). Default 0.01. */
  readonly falseAlarmRate?: number;
  /** PSI below this never alarms, however significant: a floor for shifts too small to act on. Default 0.1. */
  readonly minimumPsi?: number;
  /** Pseudo-count per reference bin (uniform smoothing). Default 0.5 (Jeffreys). */
  readonly referencePseudoCount?: number;
  /** Pseudo-observations mixed into the window, spread like the reference. Default 0.5 per bin. */
  readonly windowPseudoCountPerBin?: number;
  /** Simulated no-drift windows behind the critical values. Default 1,000. */
  readonly simulations?: number;
  /** Seed of the simulation; the same seed and inputs give the same thresholds. Default 1. */
  readonly seed?: number;
  /**
   * True when the reference counts are a sample (held-out predictions), so the simulation redraws them too.
   * Default true.
   */
  readonly referenceIsSample?: boolean;
}

export interface DriftTestResult {
  readonly bins: number;
  readonly windowSize: number;
  readonly referenceSize: number;
  readonly psi: number;
  readonly js: number;
  /** (1 − α) quantile of PSI over simulated no-drift windows of this size. */
  readonly psiCritical: number;
  /** (1 − α) quantile of JS over the same simulated windows. */
  readonly jsCritical: number;
  /** max(psiCritical, minimumPsi): PSI above it is drift (up to Monte Carlo resolution). */
  readonly psiThreshold: number;
  /** Monte Carlo p-value of PSI: (1 + #simulated ≥ observed) / (1 + simulations); drift needs it ≤ α. */
  readonly psiPValue: number;
  readonly psiAsymptoticPValue: number;
  readonly jsAsymptoticPValue: number;
  readonly drifted: boolean;
}

interface ResolvedDriftOptions {
  readonly falseAlarmRate: number;
  readonly minimumPsi: number;
  readonly referencePseudoCount: number;
  readonly windowPseudoCountPerBin: number;
  readonly simulations: number;
  readonly seed: number;
  readonly referenceIsSample: boolean;
}

function resolveDriftOptions(options: DriftTestOptions): ResolvedDriftOptions {
  const resolved = {
    falseAlarmRate: options.falseAlarmRate ?? 0.01,
    minimumPsi: options.minimumPsi ?? 0.1,
    referencePseudoCount: options.referencePseudoCount ?? 0.5,
    windowPseudoCountPerBin: options.windowPseudoCountPerBin ?? 0.5,
    simulations: options.simulations ?? 1000,
    seed: options.seed ?? 1,
    referenceIsSample: options.referenceIsSample ?? true,
  };
  if (!(resolved.falseAlarmRate > 0 && resolved.falseAlarmRate < 1)) {
    throw new RangeError(`falseAlarmRate must be in (0, 1), got ${resolved.falseAlarmRate}`);
  }
  if (!Number.isInteger(resolved.simulations) || resolved.simulations * resolved.falseAlarmRate < 1) {
    throw new RangeError(
      `simulations (${resolved.simulations}) must be an integer with simulations × falseAlarmRate ≥ 1`,
    );
  }
  if (!(resolved.minimumPsi >= 0)) throw new RangeError(`minimumPsi must be ≥ 0, got ${resolved.minimumPsi}`);
  return resolved;
}

/** The statistics of one window against the reference, smoothed exactly as the test does. */
function distances(
  referenceCounts: ArrayLike<number>,
  windowCounts: ArrayLike<number>,
  options: ResolvedDriftOptions,
): { psi: number; js: number } {
  const reference = smoothUniform(referenceCounts, options.referencePseudoCount);
  const window = smoothTowards(windowCounts, reference, options.windowPseudoCountPerBin * reference.length);
  return { psi: populationStabilityIndex(reference, window), js: jensenShannonDivergence(reference, window) };
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}

/** Upper (1 − α) quantile of a sample: the value that ⌈(1 − α)·n⌉ of the sample does not exceed. */
function upperQuantile(values: Float64Array, alpha: number): number {
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.ceil((1 - alpha) * sorted.length));
  return sorted[rank - 1]!;
}

/**
 * Tests whether a window's histogram has drifted from the reference's. The null distribution of PSI and JS is
 * simulated at this exact window size (and reference size, when the reference is a sample), with the same
 * smoothing, so sparse bins, smoothing bias and small windows are all accounted for.
 */
export function testDistributionShift(
  referenceCounts: ArrayLike<number>,
  windowCounts: ArrayLike<number>,
  options: DriftTestOptions = {},
): DriftTestResult {
  if (referenceCounts.length !== windowCounts.length) {
    throw new RangeError(`reference has ${referenceCounts.length} bins, the window ${windowCounts.length}`);
  }
  const resolved = resolveDriftOptions(options);
  const bins = referenceCounts.length;
  const referenceSize = sum(referenceCounts);
  const windowSize = sum(windowCounts);
  if (!(referenceSize > 0)) throw new RangeError('the reference histogram is empty');
  if (!(windowSize > 0)) throw new RangeError('the window histogram is empty');
  const observed = distances(referenceCounts, windowCounts, resolved);

  // Under "no drift" reference and window come from one distribution, and pooling both is its best estimate
  // (the reference alone, with sparse chapters, understates how noisy small bins are).
  const pooled = resolved.referenceIsSample
    ? Float64Array.from(referenceCounts, (count, i) => count + windowCounts[i]!)
    : Float64Array.from(referenceCounts);
  const truth = smoothUniform(pooled, resolved.referencePseudoCount);
  const sampler = new CategoricalSampler(truth);
  const rng = createRandom(resolved.seed);
  const simulatedReference = new Float64Array(bins);
  const simulatedWindow = new Float64Array(bins);
  const nullPsi = new Float64Array(resolved.simulations);
  const nullJs = new Float64Array(resolved.simulations);
  let atLeastObserved = 0;
  for (let s = 0; s < resolved.simulations; s++) {
    if (resolved.referenceIsSample) sampler.drawCounts(Math.round(referenceSize), rng, simulatedReference);
    sampler.drawCounts(Math.round(windowSize), rng, simulatedWindow);
    const simulated = distances(
      resolved.referenceIsSample ? simulatedReference : referenceCounts,
      simulatedWindow,
      resolved,
    );
    nullPsi[s] = simulated.psi;
    nullJs[s] = simulated.js;
    if (simulated.psi >= observed.psi) atLeastObserved++;
  }
  const psiCritical = upperQuantile(nullPsi, resolved.falseAlarmRate);
  const jsCritical = upperQuantile(nullJs, resolved.falseAlarmRate);
  const psiThreshold = Math.max(psiCritical, resolved.minimumPsi);
  const psiPValue = (1 + atLeastObserved) / (1 + resolved.simulations);
  const effective = effectiveSampleSize(windowSize, resolved.referenceIsSample ? referenceSize : undefined);
  return {
    bins,
    windowSize,
    referenceSize,
    psi: observed.psi,
    js: observed.js,
    psiCritical,
    jsCritical,
    psiThreshold,
    psiPValue,
    psiAsymptoticPValue: psiAsymptoticPValue(observed.psi, bins, effective),
    jsAsymptoticPValue: jsAsymptoticPValue(observed.js, bins, effective),
    // The Monte Carlo p-value, not the quantile, decides: it keeps the level at α even with few simulations.
    drifted: psiPValue <= resolved.falseAlarmRate && observed.psi > resolved.minimumPsi,
  };
}

/** Interior cut points at the reference's quantiles, so each bin holds about 1/bins of the reference. */
export function quantileBinEdges(values: ArrayLike<number>, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`bins must be an integer ≥ 2, got ${bins}`);
  if (values.length === 0) throw new RangeError('cannot place bin edges without values');
  const sorted = Float64Array.from(values).sort();
  const edges: number[] = [];
  for (let b = 1; b < bins; b++) {
    const edge = sorted[Math.min(sorted.length - 1, Math.floor((b * sorted.length) / bins))]!;
    // Confidence piles up near 1: tied quantiles would make empty bins, so duplicates are merged.
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  return edges;
}

/** Bin of a value given ascending interior edges: the number of edges ≤ value (so bins = edges + 1). */
export function binOf(value: number, edges: ArrayLike<number>): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (edges[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function histogram(values: ArrayLike<number>, edges: readonly number[]): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  for (let i = 0; i < values.length; i++) {
    const bin = binOf(values[i]!, edges);
    counts[bin] = counts[bin]! + 1;
  }
  return counts;
}

/**
 * Streaming sums for a ratio of events to trials observed in clusters (records): OOV tokens over tokens, where
 * the tokens of one description are not independent of each other.
 */
export interface ClusteredRate {
  /** Clusters (records) seen. */
  readonly clusters: number;
  readonly events: number;
  readonly trials: number;
  /** Σ events², Σ events·trials, Σ trials²: enough for the cluster-robust variance at any rate. */
  readonly eventsSquared: number;
  readonly eventsTrials: number;
  readonly trialsSquared: number;
}

export function emptyClusteredRate(): ClusteredRate {
  return { clusters: 0, events: 0, trials: 0, eventsSquared: 0, eventsTrials: 0, trialsSquared: 0 };
}

export function addCluster(rate: ClusteredRate, events: number, trials: number): ClusteredRate {
  return {
    clusters: rate.clusters + 1,
    events: rate.events + events,
    trials: rate.trials + trials,
    eventsSquared: rate.eventsSquared + events * events,
    eventsTrials: rate.eventsTrials + events * trials,
    trialsSquared: rate.trialsSquared + trials * trials,
  };
}

/** The ratio and its cluster-robust (linearised) variance: Σ (o_i − r·t_i)² / T² · n / (n − 1). */
export function clusteredRateEstimate(rate: ClusteredRate): { rate: number; variance: number } {
  if (rate.trials <= 0) throw new RangeError('no trials: the rate is undefined');
  const r = rate.events / rate.trials;
  const residuals = rate.eventsSquared - 2 * r * rate.eventsTrials + r * r * rate.trialsSquared;
  const n = rate.clusters;
  const variance = n > 1 ? (Math.max(0, residuals) / (rate.trials * rate.trials)) * (n / (n - 1)) : Infinity;
  return { rate: r, variance };
}

export interface RateTestOptions {
  /** α of the one-sided test. Default 0.01. */
  readonly falseAlarmRate?: number;
  /** An increase smaller than this (absolute) never alarms. Default 0.05. */
  readonly minimumIncrease?: number;
}

export interface RateTestResult {
  readonly referenceRate: number;
  readonly windowRate: number;
  readonly windowTrials: number;
  readonly windowClusters: number;
  /** (window − reference) / √(var_window + var_reference). */
  readonly z: number;
  /** One-sided p-value of an increase (normal approximation). */
  readonly pValue: number;
  /** PSI and JS of the two Bernoulli distributions [1 − rate, rate], for comparison with the other checks. */
  readonly psi: number;
  readonly js: number;
  readonly drifted: boolean;
}

/**
 * One-sided test that a clustered rate rose above the reference's. Both sides are samples (the reference is
 * measured on held-out text), so both variances count.
 */
export function testRateIncrease(
  reference: ClusteredRate,
  window: ClusteredRate,
  options: RateTestOptions = {},
): RateTestResult {
  const alpha = options.falseAlarmRate ?? 0.01;
  const minimumIncrease = options.minimumIncrease ?? 0.05;
  const before = clusteredRateEstimate(reference);
  const now = clusteredRateEstimate(window);
  const standardError = Math.sqrt(before.variance + now.variance);
  const difference = now.rate - before.rate;
  const z = standardError > 0 ? difference / standardError : difference > 0 ? Infinity : 0;
  const pValue = normalSurvival(z);
  // Half a pseudo-count each way keeps the two-bin PSI finite at rates of exactly 0 or 1.
  const bernoulli = (r: ClusteredRate): Float64Array => smoothUniform([r.trials - r.events, r.events], 0.5);
  const p = bernoulli(reference);
  const q = bernoulli(window);
  return {
    referenceRate: before.rate,
    windowRate: now.rate,
    windowTrials: window.trials,
    windowClusters: window.clusters,
    z,
    pValue,
    psi: populationStabilityIndex(p, q),
    js: jensenShannonDivergence(p, q),
    drifted: pValue < alpha && difference >= minimumIncrease,
  };
}

export interface ReviewRateSloResult {
  readonly reviews: number;
  readonly predictions: number;
  readonly rate: number;
  readonly target: number;
  /** P(X ≥ reviews) for X ~ Binomial(predictions, target): how surprising the count is if the SLO holds. */
  readonly pValue: number;
  readonly breached: boolean;
}

/** The review share breaches its target only when the excess is beyond sampling noise at level α. */
export function checkReviewRateSlo(
  reviews: number,
  predictions: number,
  target: number,
  falseAlarmRate: number,
): ReviewRateSloResult {
  if (!(target > 0 && target < 1))
    throw new RangeError(`review-rate target must be in (0, 1), got ${target}`);
  if (predictions <= 0) throw new RangeError('no predictions in the window');
  const rate = reviews / predictions;
  const pValue = binomialSurvival(reviews, predictions, target);
  return { reviews, predictions, rate, target, pValue, breached: rate > target && pValue < falseAlarmRate };
}

/** Nearest-rank quantile of an ascending array: the smallest value with at least q of the sample at or below. */
export function nearestRankQuantile(sortedAscending: Float64Array, q: number): number {
  if (sortedAscending.length === 0) throw new RangeError('quantile of an empty sample');
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`);
  const rank = Math.max(1, Math.ceil(q * sortedAscending.length));
  return sortedAscending[rank - 1]!;
}

export interface LatencySloResult {
  readonly quantile: number;
  readonly observedMs: number;
  readonly targetMs: number;
  /** Requests slower than the target. */
  readonly slower: number;
  readonly requests: number;
  /** P(X ≥ slower) for X ~ Binomial(requests, 1 − quantile): if the true quantile met the target. */
  readonly pValue: number;
  readonly breached: boolean;
}

/**
 * "p95 ≤ target" holds exactly when at most 5 % of requests are slower than the target, so the check counts the
 * slower requests and asks whether that count exceeds 5 % beyond binomial noise. A window's raw p95 over a few
 * hundred requests swings too much to page anyone on.
 */
export function checkLatencySlo(
  sortedLatenciesMs: Float64Array,
  quantile: number,
  targetMs: number,
  falseAlarmRate: number,
): LatencySloResult {
  const observedMs = nearestRankQuantile(sortedLatenciesMs, quantile);
  // Ascending input: everything after the last value ≤ target is slower.
  const slower = sortedLatenciesMs.length - binOf(targetMs, sortedLatenciesMs);
  const requests = sortedLatenciesMs.length;
  const pValue = binomialSurvival(slower, requests, 1 - quantile);
  return {
    quantile,
    observedMs,
    targetMs,
    slower,
    requests,
    pValue,
    breached: observedMs > targetMs && pValue < falseAlarmRate,
  };
}

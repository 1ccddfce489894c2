/**
 * Temperature scaling (Guo et al., 2017): one scalar T divides every logit, chosen to minimise the validation
 * negative log-likelihood. It leaves the ranking (accuracy) unchanged and fixes the over-confidence that
 * cross-entropy training leaves behind, which the auto/review threshold depends on.
 */
import { checkShape } from './scores';

export interface TemperatureFitOptions {
  /** Search interval of log T. Default [-4, 4] (T from 0.018 to 55). */
  logTemperatureRange?: readonly [number, number];
  /** Stop when a Newton step changes 1/T by less than this share of it. Default 1e-7. */
  tolerance?: number;
  /** Upper bound on Newton iterations (each is one pass over the matrix). Default 50. */
  maxIterations?: number;
}

export interface TemperatureFit {
  readonly temperature: number;
  readonly nllBefore: number;
  readonly nllAfter: number;
  /** Passes over the logit matrix the fit took. */
  readonly iterations: number;
}

interface NllTerms {
  value: number;
  /** d NLL / d beta, with beta = 1 / T. */
  gradient: number;
  /** d² NLL / d beta²: the mean variance of the logits under the model, never negative. */
  curvature: number;
}

/**
 * Mean NLL of the true labels under softmax(beta · logits) and its first two derivatives in beta, in one pass.
 * Rows whose label the model lacks (index ≥ C) carry no information about T and are skipped.
 */
function nllTerms(logits: Float32Array, trueLabels: Int32Array, numClasses: number, beta: number): NllTerms {
  let value = 0;
  let gradient = 0;
  let curvature = 0;
  let rows = 0;
  for (let i = 0; i < trueLabels.length; i++) {
    const truth = trueLabels[i]!;
    if (truth < 0 || truth >= numClasses) continue;
    const base = i * numClasses;
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[base + c]!);
    // Moments of (logit − max), which stay small and keep the variance free of cancellation.
    let sum = 0;
    let first = 0;
    let second = 0;
    for (let c = 0; c < numClasses; c++) {
      const d = logits[base + c]! - max;
      const e = Math.exp(beta * d);
      sum += e;
      first += e * d;
      second += e * d * d;
    }
    const mean = first / sum;
    const dTruth = logits[base + truth]! - max;
    value += Math.log(sum) - beta * dTruth;
    gradient += mean - dTruth;
    curvature += Math.max(0, second / sum - mean * mean);
    rows++;
  }
  return rows
    ? { value: value / rows, gradient: gradient / rows, curvature: curvature / rows }
    : { value: 0, gradient: 0, curvature: 0 };
}

/** Mean NLL of the true labels under softmax(logits / T) (rows whose class the model lacks are skipped). */
export function temperatureNll(
  logits: Float32Array,
  trueLabels: Int32Array,
  numClasses: number,
  temperature: number,
): number {
  return nllTerms(logits, trueLabels, numClasses, 1 / temperature).value;
}

/**
 * Fits T by Newton's method on beta = 1/T, safeguarded by bisection. The NLL is convex in beta (its second
 * derivative is the variance of the logits under the model), so the minimum is unique and Newton reaches it in a
 * handful of passes over the matrix; at 5,000 × 2,400 logits each pass costs about half a second. When the
 * minimum lies outside the range (e.g. perfectly separated data), the nearest bound is returned.
 */
export function fitTemperature(
  logits: Float32Array,
  trueLabels: Int32Array,
  numClasses: number,
  options: TemperatureFitOptions = {},
): TemperatureFit {
  checkShape(logits, numClasses, trueLabels.length);
  const [logLow, logHigh] = options.logTemperatureRange ?? [-4, 4];
  const tolerance = options.tolerance ?? 1e-7;
  const maxIterations = options.maxIterations ?? 50;
  // beta = 1/T, so the T range [e^logLow, e^logHigh] is the beta bracket [e^-logHigh, e^-logLow].
  let low = Math.exp(-logHigh);
  let high = Math.exp(-logLow);
  let beta = Math.min(high, Math.max(low, 1));
  let terms = nllTerms(logits, trueLabels, numClasses, beta);
  const nllBefore = beta === 1 ? terms.value : temperatureNll(logits, trueLabels, numClasses, 1);
  let iterations = 1;
  let triedLow = false;
  let triedHigh = false;
  while (iterations < maxIterations) {
    // Convexity makes the gradient's sign say on which side of beta the minimum lies.
    if (terms.gradient > 0) high = beta;
    else low = beta;
    if (low === high) break;
    const newton = terms.curvature > 0 ? beta - terms.gradient / terms.curvature : Number.NaN;
    let next = newton > low && newton < high ? newton : (low + high) / 2;
    // A step beyond a bound of the range: try the bound itself once, since when the minimum lies outside the
    // range (labels unrelated to the logits, perfectly separated data) bisection would creep towards it slowly.
    if (newton >= high && !triedHigh) [next, triedHigh] = [high, true];
    if (newton <= low && !triedLow) [next, triedLow] = [low, true];
    const converged = Math.abs(next - beta) <= tolerance * beta || terms.gradient === 0;
    if (converged) break;
    beta = next;
    terms = nllTerms(logits, trueLabels, numClasses, beta);
    iterations++;
  }
  return { temperature: 1 / beta, nllBefore, nllAfter: terms.value, iterations };
}

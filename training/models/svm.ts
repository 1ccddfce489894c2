/**
 * The paper's SVC: a one-vs-rest linear support vector machine on tf-idf features (squared hinge loss, L2
 * regularisation, C), trained by dual coordinate descent with shrinking (Hsieh et al., ICML 2008, the method of
 * LIBLINEAR and so of scikit-learn's LinearSVC). It is not trained by gradient steps: each class is an
 * independent convex problem solved to a tolerance, so the trainer's epochs, learning rates and early stopping do
 * not apply.
 *
 * Scores: logits[c] = b[c] + Σ_f x_f W[f, c], x the bag's idf weights (binary tf, as every bag model here),
 * L2-normalised within each feature group: words, bigrams and shapes in one, character n-grams in the other, as
 * the peer's union of two vectorisers does (`tfidfValues`; 0.8 points of accuracy@1 over one joint norm on the
 * development split). The bias is LIBLINEAR's: a constant feature of value 1, regularised like the others.
 *
 * W is sparse: w_c = Σ_i α_i y_i x_i is non-zero only on features of its support vectors, about 20 M of the
 * 121 k × 2,258 entries on the development split, 2.8 M once weights under 0.01 are pruned (which costs nothing
 * measurable). It is stored by feature (compressed rows: `offsets`, then the class and weight of every entry),
 * which is what a forward pass over a few dozen features needs and what the ONNX graph gathers from.
 */
import { join } from 'node:path';
import { createRandom } from '../../shared/math/random';
import { runInWorker } from '../../shared/pipelines/worker-thread';
import { loadCheckpoint, saveCheckpoint } from '../nn/checkpoint';
import { BagBatch } from '../../shared/text/encoder';
import { unitFeatureWeights, validateFeatureWeights } from './feature-weights';
import { Model, ensureBuffer } from './model';

export interface LinearSvmConfig {
  kind: 'svm';
  /** Feature rows: encoder buckets + 1 (row 0 is padding). */
  rows: number;
  /** Output classes (at most 65,536: classes are stored as 16-bit indices). */
  classes: number;
  /** Inverse regularisation strength: larger fits the training data more closely. */
  c: number;
  /** Dual coordinate descent stops when the projected gradient's spread is below this (LIBLINEAR's eps). */
  tolerance: number;
  /** Passes over one class's examples at most. */
  maxIterations: number;
  /**
   * Weights of smaller magnitude are dropped once a class is solved. Most of the solution is tiny weights that
   * change no ranking; dropping them shrinks the model several times over (BENCHMARKS.md). 0 keeps all.
   */
  pruneBelow: number;
}

export const DEFAULT_SVM: Readonly<Omit<LinearSvmConfig, 'rows' | 'classes'>> = Object.freeze({
  kind: 'svm',
  c: 0.5,
  tolerance: 0.1,
  maxIterations: 1000,
  pruneBelow: 0,
});

export function validateSvmConfig(config: LinearSvmConfig): void {
  if (!Number.isInteger(config.rows) || config.rows < 2) throw new RangeError(`svm rows must be ≥ 2`);
  if (!Number.isInteger(config.classes) || config.classes < 2 || config.classes > 65536)
    throw new RangeError(`svm classes must be an integer in [2, 65536], got ${config.classes}`);
  if (!(config.c > 0) || !Number.isFinite(config.c))
    throw new RangeError(`svm c must be > 0, got ${config.c}`);
  if (!(config.tolerance > 0)) throw new RangeError(`svm tolerance must be > 0, got ${config.tolerance}`);
  if (!Number.isInteger(config.maxIterations) || config.maxIterations < 1)
    throw new RangeError(`svm maxIterations must be a positive integer, got ${config.maxIterations}`);
  if (!(config.pruneBelow >= 0)) throw new RangeError(`svm pruneBelow must be ≥ 0, got ${config.pruneBelow}`);
}

/** The learned weights of every class, by feature. */
export interface SparseWeights {
  /** offsets[f] .. offsets[f + 1] index the entries of feature f; length rows + 1. */
  readonly offsets: Int32Array;
  /** Class of each entry. */
  readonly classIndex: Uint16Array;
  /** Weight of each entry. */
  readonly values: Float32Array;
  /** b [classes]. */
  readonly bias: Float32Array;
}

/** One class's solution: its non-zero weights (feature ids ascending) and bias. */
export interface ClassWeights {
  readonly features: Int32Array;
  readonly values: Float32Array;
  readonly bias: number;
}

export class LinearSvmModel implements Model<BagBatch, LinearSvmConfig> {
  /** Fixed idf weights of the training part (padding 0), as the bag models pool with. */
  readonly featureWeights: Float32Array;
  /** Normalisation group per feature row: 1 for character n-grams, 0 for the rest (`tfidfValues`). */
  readonly featureGroups: Uint8Array;
  weights: SparseWeights;
  private logits: Float32Array = new Float32Array(0);

  constructor(readonly config: LinearSvmConfig) {
    validateSvmConfig(config);
    this.featureWeights = unitFeatureWeights(config.rows);
    this.featureGroups = new Uint8Array(config.rows);
    this.weights = {
      offsets: new Int32Array(config.rows + 1),
      classIndex: new Uint16Array(0),
      values: new Float32Array(0),
      bias: new Float32Array(config.classes),
    };
  }

  setFeatureWeights(weights: Float32Array): void {
    validateFeatureWeights(weights, this.config.rows);
    this.featureWeights.set(weights);
  }

  /** Adopts the normalisation group of every feature row (0 or 1; padding 0). */
  setFeatureGroups(groups: Uint8Array): void {
    if (groups.length !== this.config.rows)
      throw new RangeError(`svm: ${groups.length} feature groups for ${this.config.rows} rows`);
    if (groups.some((g) => g > 1)) throw new RangeError('svm: feature groups must be 0 or 1');
    this.featureGroups.set(groups);
  }

  /** Adopts per-class solutions (one per class, in class order) as the model's weights. */
  setClassWeights(perClass: readonly ClassWeights[]): void {
    const { rows, classes } = this.config;
    if (perClass.length !== classes)
      throw new Error(`svm: ${perClass.length} class solutions for ${classes} classes`);
    const counts = new Int32Array(rows + 1);
    for (const solution of perClass) {
      for (const f of solution.features) {
        if (f <= 0 || f >= rows) throw new RangeError(`svm: feature ${f} outside [1, ${rows})`);
        counts[f + 1]!++;
      }
    }
    for (let f = 0; f < rows; f++) counts[f + 1]! += counts[f]!;
    const offsets = counts;
    const total = offsets[rows]!;
    const classIndex = new Uint16Array(total);
    const values = new Float32Array(total);
    const cursor = offsets.slice(0, rows);
    const bias = new Float32Array(classes);
    perClass.forEach((solution, c) => {
      bias[c] = solution.bias;
      for (let k = 0; k < solution.features.length; k++) {
        const at = cursor[solution.features[k]!]!++;
        classIndex[at] = c;
        values[at] = solution.values[k]!;
      }
    });
    this.weights = { offsets, classIndex, values, bias };
  }

  /** Non-zero weights in the model. */
  get entries(): number {
    return this.weights.values.length;
  }

  parameters(): [] {
    return [];
  }

  forward(input: BagBatch, _training: unknown): Float32Array {
    const { classes } = this.config;
    const { offsets, classIndex, values, bias } = this.weights;
    this.logits = ensureBuffer(this.logits, input.size * classes);
    const logits = this.logits.subarray(0, input.size * classes);
    const x = new Float32Array(input.size * input.width);
    for (let b = 0; b < input.size; b++) {
      const from = b * input.width;
      tfidfValues(input.ids, from, from + input.width, this.featureWeights, this.featureGroups, x, from);
    }
    for (let b = 0; b < input.size; b++) {
      const row = logits.subarray(b * classes, (b + 1) * classes);
      row.set(bias);
      for (let slot = b * input.width; slot < (b + 1) * input.width; slot++) {
        const id = input.ids[slot]!;
        if (id === 0) continue;
        const xf = x[slot]!;
        for (let k = offsets[id]!; k < offsets[id + 1]!; k++) {
          const c = classIndex[k]!;
          row[c] = row[c]! + xf * values[k]!;
        }
      }
    }
    return logits;
  }

  backward(): void {
    throw new Error('the svm is trained by dual coordinate descent (trainLinearSvm), not by gradients');
  }
}

/** Training examples as compressed rows of tf-idf values: row i is cols/values[rowStart[i] .. rowStart[i + 1]]. */
export interface SparseExamples {
  readonly rowStart: Int32Array;
  readonly cols: Int32Array;
  readonly values: Float64Array;
  readonly labels: Int32Array;
  /** Per-example multiplier of C (class weights), or null for 1. */
  readonly costScale: Float32Array | null;
}

/**
 * tf-idf values of one bag's slots ids[from, to): idf weights, L2-normalised within each feature group (word-level
 * features and character n-grams apart, as scikit-learn's union of a word and a character vectoriser does, so
 * the many n-grams of a word do not drown its word and bigram features). Padding and zero-weight ids get 0.
 */
export function tfidfValues(
  ids: ArrayLike<number>,
  from: number,
  to: number,
  featureWeights: Float32Array,
  featureGroups: Uint8Array,
  out: Float32Array | Float64Array,
  outAt: number,
): void {
  let words = 0;
  let characters = 0;
  for (let k = from; k < to; k++) {
    const w = featureWeights[ids[k]!]!;
    if (featureGroups[ids[k]!] === 1) characters += w * w;
    else words += w * w;
  }
  const wordScale = words > 0 ? 1 / Math.sqrt(words) : 0;
  const characterScale = characters > 0 ? 1 / Math.sqrt(characters) : 0;
  for (let k = from; k < to; k++) {
    const id = ids[k]!;
    out[outAt + k - from] = featureWeights[id]! * (featureGroups[id] === 1 ? characterScale : wordScale);
  }
}

/** Bags (feature ids) to the tf-idf rows the solver works on (`tfidfValues`), padding and zeros dropped. */
export function sparseExamples(
  bags: readonly Int32Array[],
  labels: Int32Array,
  featureWeights: Float32Array,
  featureGroups: Uint8Array,
  costScale: Float32Array | null = null,
): SparseExamples {
  if (bags.length !== labels.length) throw new Error(`${bags.length} bags but ${labels.length} labels`);
  let total = 0;
  for (const bag of bags) total += bag.length;
  const rowStart = new Int32Array(bags.length + 1);
  const cols = new Int32Array(total);
  const values = new Float64Array(total);
  let scratch = new Float64Array(0);
  let at = 0;
  bags.forEach((bag, i) => {
    if (scratch.length < bag.length) scratch = new Float64Array(bag.length);
    tfidfValues(bag, 0, bag.length, featureWeights, featureGroups, scratch, 0);
    for (let k = 0; k < bag.length; k++) {
      if (scratch[k] === 0) continue;
      cols[at] = bag[k]!;
      values[at] = scratch[k]!;
      at++;
    }
    rowStart[i + 1] = at;
  });
  return { rowStart, cols: cols.subarray(0, at), values: values.subarray(0, at), labels, costScale };
}

/**
 * One class against the rest: L2-regularised squared-hinge SVM, dual coordinate descent with shrinking
 * (LIBLINEAR's solve_l2r_l1l2_svc for the L2 loss). `w` (length rows, all zero on entry) receives the weights;
 * the bias is returned. Examples are visited in an order shuffled by `seed`, so a class's solution does not
 * depend on which worker or in which order the classes are solved.
 */
export function solveOneVsRest(
  data: SparseExamples,
  positive: number,
  config: LinearSvmConfig,
  seed: number,
  w: Float64Array,
): { bias: number; loss: number } {
  const n = data.labels.length;
  const { rowStart, cols, values, labels, costScale } = data;
  const alpha = new Float64Array(n);
  const diagonal = new Float64Array(n);
  const qd = new Float64Array(n);
  const y = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = labels[i] === positive ? 1 : -1;
    // D_ii = 1 / (2 C_i); Q_ii = x_i·x_i + 1 (the bias feature) + D_ii.
    const d = 1 / (2 * config.c * (costScale ? costScale[i]! : 1));
    diagonal[i] = d;
    let sq = 1;
    for (let k = rowStart[i]!; k < rowStart[i + 1]!; k++) sq += values[k]! * values[k]!;
    alpha[i] = 0;
    qd[i] = sq + d;
  }
  let bias = 0;
  const index = Int32Array.from({ length: n }, (_, i) => i);
  let active = n;
  // Only the lower bound (α = 0) exists for the squared hinge, so shrinking needs only the largest gradient.
  let maxOld = Infinity;
  const rng = createRandom(seed);
  for (let iteration = 0; iteration < config.maxIterations; iteration++) {
    let maxNew = -Infinity;
    let minNew = Infinity;
    for (let s = 0; s < active; s++) {
      const j = s + Math.floor(rng.next() * (active - s));
      const t = index[s]!;
      index[s] = index[j]!;
      index[j] = t;
    }
    for (let s = 0; s < active; s++) {
      const i = index[s]!;
      const yi = y[i]!;
      let dot = bias;
      const start = rowStart[i]!;
      const end = rowStart[i + 1]!;
      for (let k = start; k < end; k++) dot += w[cols[k]!]! * values[k]!;
      const g = yi * dot - 1 + diagonal[i]! * alpha[i]!;
      let pg = 0;
      if (alpha[i] === 0) {
        if (g > maxOld) {
          // Stays at its bound: shrink it out of the active set until the final check.
          active--;
          index[s] = index[active]!;
          index[active] = i;
          s--;
          continue;
        }
        if (g < 0) pg = g;
      } else {
        pg = g;
      }
      if (pg > maxNew) maxNew = pg;
      if (pg < minNew) minNew = pg;
      if (Math.abs(pg) > 1e-12) {
        const old = alpha[i]!;
        const next = Math.max(old - g / qd[i]!, 0);
        alpha[i] = next;
        const step = (next - old) * yi;
        for (let k = start; k < end; k++) w[cols[k]!]! += step * values[k]!;
        bias += step;
      }
    }
    if (maxNew - minNew <= config.tolerance) {
      if (active === n) break;
      // Converged on the active set: check every example once more before stopping.
      active = n;
      maxOld = Infinity;
      continue;
    }
    maxOld = maxNew <= 0 ? Infinity : maxNew;
  }
  // At the optimum α_i = 2 C_i ξ_i, so the squared hinge of example i is (α_i D_ii)².
  let loss = 0;
  for (let i = 0; i < n; i++) loss += (alpha[i]! * diagonal[i]!) ** 2;
  // Mean squared hinge loss on the training examples.
  return { bias, loss: loss / Math.max(1, n) };
}

export interface SvmTrainingOptions {
  /** Seeds each class's visiting order (class c uses seed + c). */
  readonly seed: number;
  /** Where progress is saved after every chunk of classes, so a restarted run resumes there; null for none. */
  readonly checkpointPath: string | null;
  /** Identity of the data and settings; a checkpoint with another tag is ignored, not resumed. */
  readonly checkpointTag: string;
  /** Progress reports (and checkpoints) per run. Default 10. */
  readonly chunks?: number;
  /**
   * Worker threads solving classes side by side (default 1: this thread). Each class's solution depends only on
   * the data, the config and the seed, so the weights are the same for any number of threads.
   */
  readonly threads?: number;
  readonly onProgress?: (progress: SvmProgress) => void;
}

export interface SvmProgress {
  /** Chunks of classes solved so far, of `chunks`. */
  readonly chunk: number;
  readonly chunks: number;
  /** Mean squared hinge loss over the classes solved so far. */
  readonly loss: number;
  readonly elapsedSeconds: number;
}

const CHECKPOINT_FORMAT = 'svm-classes-1';

/**
 * Solves every class (one against the rest) and sets the model's weights. Deterministic: the same examples, config
 * and seed give the same weights, resumed or not.
 */
export async function trainLinearSvm(
  model: LinearSvmModel,
  data: SparseExamples,
  options: SvmTrainingOptions,
): Promise<{ loss: number }> {
  const { classes, rows } = model.config;
  if (rows >= 1 << 24)
    throw new RangeError('svm checkpoints store feature ids as float32: rows must be < 2^24');
  const chunks = Math.max(1, Math.min(options.chunks ?? 10, classes));
  const started = performance.now();
  const solved: ClassWeights[] = [];
  const losses: number[] = [];
  if (options.checkpointPath) {
    const resumed = await readSvmCheckpoint(options.checkpointPath, options.checkpointTag);
    for (const entry of resumed) {
      solved.push(entry.weights);
      losses.push(entry.loss);
    }
  }
  const threads = Math.max(1, Math.min(options.threads ?? 1, classes));
  const shared = threads > 1 ? shareExamples(data) : data;
  let weightsSet = false;
  for (let chunk = 1; chunk <= chunks; chunk++) {
    const end = Math.round((classes * chunk) / chunks);
    if (solved.length >= end) continue;
    const from = solved.length;
    const parts =
      threads === 1
        ? [solveClassRange(data, model.config, from, end, options.seed)]
        : await Promise.all(
            splitRange(from, end, threads).map(([a, b]) =>
              runInWorker<SvmWorkerInput, never, SolvedClasses>(SVM_WORKER, {
                data: shared,
                config: model.config,
                from: a,
                to: b,
                seed: options.seed,
              }),
            ),
          );
    for (const part of parts) {
      solved.push(...part.solutions);
      losses.push(...part.losses);
    }
    // From the last chunk on the model holds its weights, so the last progress report can score it.
    if (chunk === chunks) {
      model.setClassWeights(solved);
      weightsSet = true;
    }
    if (options.checkpointPath)
      await writeSvmCheckpoint(options.checkpointPath, options.checkpointTag, solved, losses);
    options.onProgress?.({
      chunk,
      chunks,
      loss: losses.reduce((a, b) => a + b, 0) / losses.length,
      elapsedSeconds: (performance.now() - started) / 1000,
    });
  }
  // Every chunk came from the checkpoint: nothing was solved (or set) in this run.
  if (!weightsSet) model.setClassWeights(solved);
  return { loss: losses.reduce((a, b) => a + b, 0) / losses.length };
}

async function writeSvmCheckpoint(
  path: string,
  tag: string,
  solved: readonly ClassWeights[],
  losses: readonly number[],
): Promise<void> {
  const total = solved.reduce((sum, s) => sum + s.features.length, 0);
  const features = new Float32Array(total);
  const values = new Float32Array(total);
  let at = 0;
  for (const s of solved) {
    features.set(s.features, at);
    values.set(s.values, at);
    at += s.features.length;
  }
  await saveCheckpoint(path, [], {
    epoch: solved.length,
    step: 0,
    rngState: 0,
    optimizer: { step: 0, slots: [features, values, Float32Array.from(solved, (s) => s.bias)] },
    extra: { format: CHECKPOINT_FORMAT, tag, counts: solved.map((s) => s.features.length), losses },
  });
}

async function readSvmCheckpoint(
  path: string,
  tag: string,
): Promise<{ weights: ClassWeights; loss: number }[]> {
  let data: Awaited<ReturnType<typeof loadCheckpoint>>;
  try {
    data = await loadCheckpoint(path, []);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const extra = data.extra as { format?: string; tag?: string; counts?: number[]; losses?: number[] };
  if (extra.format !== CHECKPOINT_FORMAT || extra.tag !== tag) return [];
  const [features, values, biases] = data.optimizer.slots as [Float32Array, Float32Array, Float32Array];
  let at = 0;
  return extra.counts!.map((count, c) => {
    const weights = {
      features: Int32Array.from(features.subarray(at, at + count)),
      values: values.slice(at, at + count),
      bias: biases[c]!,
    };
    at += count;
    return { weights, loss: extra.losses![c]! };
  });
}

/** Classes [from, to) solved one after another, in class order. */
export interface SolvedClasses {
  readonly solutions: ClassWeights[];
  readonly losses: number[];
}

/** Solves classes [from, to): class c with seed + c. */
export function solveClassRange(
  data: SparseExamples,
  config: LinearSvmConfig,
  from: number,
  to: number,
  seed: number,
): SolvedClasses {
  const rows = config.rows;
  const w = new Float64Array(rows);
  const solutions: ClassWeights[] = [];
  const losses: number[] = [];
  const keep = (value: number): boolean => value !== 0 && Math.abs(value) >= config.pruneBelow;
  for (let c = from; c < to; c++) {
    const { bias, loss } = solveOneVsRest(data, c, config, seed + c, w);
    let count = 0;
    for (let f = 0; f < rows; f++) if (keep(w[f]!)) count++;
    const features = new Int32Array(count);
    const values = new Float32Array(count);
    let at = 0;
    for (let f = 0; f < rows; f++) {
      if (keep(w[f]!)) {
        features[at] = f;
        values[at++] = w[f]!;
      }
      w[f] = 0;
    }
    solutions.push({ features, values, bias });
    losses.push(loss);
  }
  return { solutions, losses };
}

/** What a solver worker (svm-worker.ts) gets: the examples (in shared memory) and its classes. */
export interface SvmWorkerInput {
  readonly data: SparseExamples;
  readonly config: LinearSvmConfig;
  readonly from: number;
  readonly to: number;
  readonly seed: number;
}

const SVM_WORKER = join(__dirname, 'svm-worker');

/** [from, to) cut into `parts` contiguous ranges of near-equal size (empty ones left out). */
function splitRange(from: number, to: number, parts: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let p = 0; p < parts; p++) {
    const a = from + Math.round(((to - from) * p) / parts);
    const b = from + Math.round(((to - from) * (p + 1)) / parts);
    if (b > a) ranges.push([a, b]);
  }
  return ranges;
}

/** A copy of the examples in SharedArrayBuffers, so every worker reads the same memory instead of a clone. */
function shareExamples(data: SparseExamples): SparseExamples {
  const share = <T extends Int32Array | Float64Array | Float32Array>(
    array: T,
    make: (buffer: SharedArrayBuffer) => T,
  ): T => {
    const copy = make(new SharedArrayBuffer(array.byteLength));
    copy.set(array);
    return copy;
  };
  return {
    rowStart: share(data.rowStart, (b) => new Int32Array(b)),
    cols: share(data.cols, (b) => new Int32Array(b)),
    values: share(data.values, (b) => new Float64Array(b)),
    labels: share(data.labels, (b) => new Int32Array(b)),
    costScale: data.costScale ? share(data.costScale, (b) => new Float32Array(b)) : null,
  };
}

/**
 * Mini-batch trainer for every architecture that implements Model: seeded shuffling, optional per-class weights,
 * warm-up + decay schedule, gradient clipping, early stopping on validation accuracy, a checkpoint after every
 * epoch (resumable), and a progress callback for the orchestration.
 */
import { existsSync } from 'node:fs';
import { createRandom, shuffleInPlace } from '../shared/math/random';
import { loadCheckpoint, saveCheckpoint } from './nn/checkpoint';
import { HeadEngine, createOnnxHeadEngine, createTypeScriptHeadEngine, headLogits } from './nn/head-engine';
import { softmaxCrossEntropy } from './nn/kernels';
import { DEFAULT_ADAM, OptimizerConfig, createOptimizer } from './nn/optimizer';
import { clipGradientNorm } from './nn/parameter';
import { LearningRateSchedule, learningRateAt } from './nn/schedule';
import { Model, Sized } from './models/model';

/** Examples the trainer can batch without knowing how they are encoded. */
export interface ExampleSet<Input> {
  readonly size: number;
  /** Class index per example. */
  readonly labels: Int32Array;
  /** Model input for the examples at `indices`, in that order. */
  batch(indices: Int32Array): Input;
}

export interface TrainerConfig {
  /** Maximum epochs; also the length of the learning-rate schedule. Default 10. */
  epochs: number;
  /**
   * Stop after this many epochs while keeping the schedule of `epochs` (a refit that repeats a run's first N epochs
   * on more data, at the same learning rates). Default null: run all `epochs`.
   */
  stopAfterEpochs: number | null;
  /** Default 64. */
  batchSize: number;
  /** Default Adam(0.9, 0.999, 1e-8), no weight decay. */
  optimizer: OptimizerConfig;
  /** Default base 2e-3, warm-up 100 steps, linear decay to 0. */
  schedule: LearningRateSchedule;
  /** Global gradient-norm clip; 0 disables. Default 5. */
  clipNorm: number;
  /** Epochs without a better validation accuracy before stopping. Default 2. */
  patience: number;
  /** Per-class loss weights (e.g. inverse frequency), or null for none. Default null. */
  classWeights: Float32Array | null;
  /** Seeds shuffling and dropout. Default 1. */
  seed: number;
  /** Checkpoint file written after each epoch and resumed from when present. Default none. */
  checkpointPath: string | null;
  /** Where the dense softmax head runs. Default 'onnxruntime'. */
  headEngine: 'onnxruntime' | 'typescript';
  /**
   * Identity of the fixed state the model was built with outside its parameters (a fingerprint of the learned
   * vocabulary and feature weights), written into every checkpoint; resuming a checkpoint written with another
   * tag fails, since its parameters would be read against other feature ids. Default null.
   */
  checkpointTag: string | null;
}

export const DEFAULT_TRAINER_CONFIG: Readonly<TrainerConfig> = Object.freeze<TrainerConfig>({
  epochs: 10,
  stopAfterEpochs: null,
  batchSize: 64,
  optimizer: DEFAULT_ADAM,
  schedule: { base: 2e-3, warmupSteps: 100, decay: 'linear', finalFactor: 0 },
  clipNorm: 5,
  patience: 2,
  classWeights: null,
  seed: 1,
  checkpointPath: null,
  headEngine: 'onnxruntime',
  checkpointTag: null,
});

export interface TrainingProgress {
  epoch: number;
  epochs: number;
  /** Mean training loss of the epoch. */
  loss: number;
  /** Validation accuracy@1 (NaN without a validation set). */
  validationAccuracy: number;
  elapsedSeconds: number;
}

export interface TrainingResult {
  /** Epoch (1-based) whose weights the model holds now: the best on validation. */
  bestEpoch: number;
  history: TrainingProgress[];
  /** Validation logits [size, classes] of the returned weights (empty without a validation set). */
  validationLogits: Float32Array;
  /** True when the run stopped before `epochs` because validation stopped improving. */
  stoppedEarly: boolean;
}

/** Logits [size, classes] for a whole example set, in batches. */
export async function predictLogits<Input extends Sized>(
  model: Model<Input>,
  examples: ExampleSet<Input>,
  engine: HeadEngine | null = null,
  batchSize = 512,
): Promise<Float32Array> {
  const classes = model.config.classes;
  const out = new Float32Array(examples.size * classes);
  for (let start = 0; start < examples.size; start += batchSize) {
    const indices = Int32Array.from(
      { length: Math.min(batchSize, examples.size - start) },
      (_, i) => start + i,
    );
    const input = examples.batch(indices);
    const logits =
      engine && model.head
        ? await headLogits(
            engine,
            model.head.forwardBody(input, null),
            input.size,
            model.head.weight,
            model.head.bias,
          )
        : model.forward(input, null);
    out.set(logits.subarray(0, input.size * classes), start * classes);
  }
  return out;
}

export function accuracyAt1(logits: Float32Array, labels: Int32Array, classes: number): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
    if (best === labels[i]) hits++;
  }
  return labels.length === 0 ? NaN : hits / labels.length;
}

export async function train<Input extends Sized>(
  model: Model<Input>,
  trainSet: ExampleSet<Input>,
  validationSet: ExampleSet<Input> | null,
  options: Partial<TrainerConfig> = {},
  onProgress: (progress: TrainingProgress) => void = () => {},
): Promise<TrainingResult> {
  const config: TrainerConfig = { ...DEFAULT_TRAINER_CONFIG, ...options };
  const classes = model.config.classes;
  const parameters = model.parameters();
  const optimizer = createOptimizer(parameters, config.optimizer);
  const stepsPerEpoch = Math.ceil(trainSet.size / config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const lastEpoch = Math.min(config.stopAfterEpochs ?? config.epochs, config.epochs);
  const head = model.head;
  const engine: HeadEngine | null = !head
    ? null
    : config.headEngine === 'onnxruntime'
      ? await createOnnxHeadEngine(head.inputs, classes)
      : createTypeScriptHeadEngine();

  let rng = createRandom(config.seed);
  let epoch = 0;
  let step = 0;
  let bestAccuracy = -Infinity;
  let bestEpoch = 0;
  let bestValues: Float32Array[] | null = null;
  let history: TrainingProgress[] = [];
  const started = Date.now();
  let elapsedBefore = 0;
  const bestPath = config.checkpointPath ? `${config.checkpointPath}.best` : null;

  if (config.checkpointPath && existsSync(config.checkpointPath)) {
    const resumed = await loadCheckpoint(config.checkpointPath, parameters);
    optimizer.restore(resumed.optimizer);
    rng = createRandom(config.seed, resumed.rngState);
    epoch = resumed.epoch;
    step = resumed.step;
    const extra = resumed.extra as {
      bestAccuracy: number | null;
      bestEpoch: number;
      history: TrainingProgress[];
      tag?: string | null;
    };
    if ((extra.tag ?? null) !== config.checkpointTag) {
      throw new Error(
        `checkpoint ${config.checkpointPath} was written for ${extra.tag ?? 'no tag'}, this run is ${config.checkpointTag ?? 'untagged'}`,
      );
    }
    bestAccuracy = extra.bestAccuracy ?? -Infinity;
    bestEpoch = extra.bestEpoch;
    history = extra.history;
    elapsedBefore = history.at(-1)?.elapsedSeconds ?? 0;
  }

  const exampleWeights = new Float32Array(config.batchSize);
  const order = Int32Array.from({ length: trainSet.size }, (_, i) => i);
  let stoppedEarly = false;
  try {
    while (epoch < lastEpoch) {
      // A run resumed after it had already stopped early stays stopped: one more epoch would be one the
      // uninterrupted run never trained, and could move the best epoch.
      if (validationSet && epoch > 0 && epoch - bestEpoch >= config.patience) {
        stoppedEarly = true;
        break;
      }
      // The order is reshuffled from the identity each epoch so a resumed run sees exactly the same batches.
      for (let i = 0; i < order.length; i++) order[i] = i;
      shuffleInPlace(order, rng);
      let lossSum = 0;
      for (let start = 0; start < trainSet.size; start += config.batchSize) {
        const indices = order.subarray(start, Math.min(start + config.batchSize, trainSet.size));
        const input = trainSet.batch(indices);
        const labels = Int32Array.from(indices, (i) => trainSet.labels[i]!);
        const weights = config.classWeights ? exampleWeights.subarray(0, indices.length) : null;
        if (weights) labels.forEach((label, b) => (weights[b] = config.classWeights![label]!));
        if (head && engine) {
          const h = head.forwardBody(input, { rng });
          const result = await engine.step(h, input.size, head.weight, head.bias, labels, weights);
          head.backwardBody(result.dh);
          lossSum += result.loss;
        } else {
          const logits = model.forward(input, { rng });
          const probs = new Float32Array(logits.length);
          const dLogits = new Float32Array(logits.length);
          lossSum += softmaxCrossEntropy(logits, input.size, classes, labels, weights, probs, dLogits);
          model.backward(dLogits);
        }
        if (config.clipNorm > 0) clipGradientNorm(parameters, config.clipNorm);
        optimizer.step(learningRateAt(config.schedule, step, totalSteps));
        step++;
      }
      epoch++;
      let validationAccuracy = NaN;
      if (validationSet) {
        validationAccuracy = accuracyAt1(
          await predictLogits(model, validationSet, engine),
          validationSet.labels,
          classes,
        );
      }
      const progress: TrainingProgress = {
        epoch,
        epochs: lastEpoch,
        loss: lossSum / trainSet.size,
        validationAccuracy,
        elapsedSeconds: elapsedBefore + (Date.now() - started) / 1000,
      };
      history.push(progress);
      if (!validationSet) {
        // Without validation the last epoch is the result: nothing to keep aside.
        bestEpoch = epoch;
      } else if (validationAccuracy > bestAccuracy) {
        bestAccuracy = validationAccuracy;
        bestEpoch = epoch;
        if (bestPath)
          await saveCheckpoint(bestPath, parameters, {
            epoch,
            step,
            rngState: 0,
            optimizer: { step: 0, slots: [] },
            extra: {},
          });
        else bestValues = parameters.map((p) => p.value.slice());
      }
      if (config.checkpointPath) {
        await saveCheckpoint(config.checkpointPath, parameters, {
          epoch,
          step,
          rngState: rng.state(),
          optimizer: optimizer.state(),
          extra: {
            bestAccuracy: Number.isFinite(bestAccuracy) ? bestAccuracy : null,
            bestEpoch,
            history,
            tag: config.checkpointTag,
          },
        });
      }
      onProgress(progress);
      if (validationSet && epoch - bestEpoch >= config.patience) {
        stoppedEarly = epoch < lastEpoch;
        break;
      }
    }
    if (bestEpoch !== epoch) {
      if (bestPath && existsSync(bestPath)) await loadCheckpoint(bestPath, parameters);
      else if (bestValues) parameters.forEach((p, i) => p.value.set(bestValues![i]!));
    }
    const validationLogits = validationSet
      ? await predictLogits(model, validationSet, engine)
      : new Float32Array(0);
    return { bestEpoch, history, validationLogits, stoppedEarly };
  } finally {
    await engine?.close();
  }
}

/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRandom } from '../../../shared/math/random';
import { BagBatch, packBags } from '../../../shared/text/encoder';
import { BagModelConfig, createBagModel } from '../../../training/models';
import { ExampleSet, TrainerConfig, TrainingProgress, train } from '../../../training/trainer';

const CLASSES = 5;
const ROWS = 80;

/** Each class owns ids 10c+1..10c+10; every text also carries two noise ids from 51..79. */
function synthetic(seed: number, size: number): ExampleSet<BagBatch> {
  const rng = createRandom(seed);
  const labels = Int32Array.from({ length: size }, () => rng.int(CLASSES));
  const bags = Array.from(labels, (c) =>
    Int32Array.of(10 * c + 1 + rng.int(10), 10 * c + 1 + rng.int(10), 51 + rng.int(29), 51 + rng.int(29)),
  );
  return { size, labels, batch: (indices) => packBags(Array.from(indices, (i) => bags[i]!)) };
}

const bag: BagModelConfig = { kind: 'bag', rows: ROWS, dim: 8, hidden: [], dropout: 0.1, classes: CLASSES };
const dnn: BagModelConfig = { kind: 'dnn', rows: ROWS, dim: 8, hidden: [16], dropout: 0.1, classes: CLASSES };
const linear: BagModelConfig = { kind: 'linear', rows: ROWS, classes: CLASSES };
const fast: Partial<TrainerConfig> = {
  epochs: 6,
  batchSize: 16,
  schedule: { base: 0.05, warmupSteps: 5, decay: 'linear', finalFactor: 0 },
  patience: 10,
  headEngine: 'typescript',
};

const weightsOf = (model: ReturnType<typeof createBagModel>) =>
  model.parameters().map((p) => Array.from(p.value));

describe('train', () => {
  const trainSet = synthetic(1, 400);
  const validation = synthetic(2, 100);

  it.each([
    ['bag', 'typescript', bag],
    ['dnn', 'onnxruntime', dnn],
    ['linear', 'typescript', linear],
  ] as const)('learns a separable problem (%s model, %s head)', async (_name, headEngine, config) => {
    const model = createBagModel(config, createRandom(1));
    const progress: TrainingProgress[] = [];
    const result = await train(model, trainSet, validation, { ...fast, headEngine }, (p) => progress.push(p));
    expect(progress.map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(progress[5]!.loss).toBeLessThan(progress[0]!.loss);
    expect(Math.max(...progress.map((p) => p.validationAccuracy))).toBeGreaterThan(0.95);
    expect(result.validationLogits.length).toBe(100 * CLASSES);
  });

  it.each(['typescript', 'onnxruntime'] as const)(
    'is deterministic: same data, seed and settings give identical weights (%s head)',
    async (headEngine) => {
      const a = createBagModel(dnn, createRandom(1));
      const b = createBagModel(dnn, createRandom(1));
      const c = createBagModel(dnn, createRandom(1));
      await train(a, trainSet, validation, { ...fast, epochs: 2, headEngine });
      await train(b, trainSet, validation, { ...fast, epochs: 2, headEngine });
      await train(c, trainSet, validation, { ...fast, epochs: 2, headEngine, seed: 2 });
      expect(weightsOf(a)).toEqual(weightsOf(b));
      expect(weightsOf(a)).not.toEqual(weightsOf(c));
    },
  );

  it('stops early when validation accuracy stops improving and restores the best epoch', async () => {
    const model = createBagModel(bag, createRandom(1));
    const frozen = {
      ...fast,
      schedule: { base: 0, warmupSteps: 0, decay: 'constant' as const, finalFactor: 0 },
      patience: 2,
    };
    const result = await train(model, trainSet, validation, frozen);
    expect(result.stoppedEarly).toBe(true);
    expect(result.bestEpoch).toBe(1);
    expect(result.history.length).toBe(3);
  });

  it('resumes from the epoch checkpoint to exactly the weights of an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainer-'));
    try {
      const options = { ...fast, epochs: 4, checkpointPath: join(dir, 'run.ckpt') };
      const uninterrupted = createBagModel(dnn, createRandom(1));
      await train(uninterrupted, trainSet, validation, {
        ...options,
        checkpointPath: join(dir, 'other.ckpt'),
      });

      const crashed = createBagModel(dnn, createRandom(1));
      const crash = (p: TrainingProgress) => {
        if (p.epoch === 2) throw new Error('host restarted');
      };
      await expect(train(crashed, trainSet, validation, options, crash)).rejects.toThrow('host restarted');
      const resumed = createBagModel(dnn, createRandom(99));
      const seen: number[] = [];
      const result = await train(resumed, trainSet, validation, options, (p) => seen.push(p.epoch));
      expect(seen).toEqual([3, 4]);
      expect(result.history.map((p) => p.epoch)).toEqual([1, 2, 3, 4]);
      expect(weightsOf(resumed)).toEqual(weightsOf(uninterrupted));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops after stopAfterEpochs on the schedule of epochs: the first epochs of the full run, and no more', async () => {
    const full = createBagModel(bag, createRandom(1));
    let atEpoch2: number[][] = [];
    await train(full, trainSet, null, { ...fast, epochs: 4 }, (p) => {
      if (p.epoch === 2) atEpoch2 = weightsOf(full);
    });
    const stopped = createBagModel(bag, createRandom(1));
    const progress: TrainingProgress[] = [];
    const result = await train(stopped, trainSet, null, { ...fast, epochs: 4, stopAfterEpochs: 2 }, (p) =>
      progress.push(p),
    );
    expect(progress.map((p) => [p.epoch, p.epochs])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(result.bestEpoch).toBe(2);
    expect(weightsOf(stopped)).toEqual(atEpoch2);
    // A two-epoch schedule decays the learning rate sooner: other weights.
    const short = createBagModel(bag, createRandom(1));
    await train(short, trainSet, null, { ...fast, epochs: 2 });
    expect(weightsOf(short)).not.toEqual(atEpoch2);
  });

  it('a run resumed after it stopped early trains no further epoch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainer-'));
    try {
      const frozen = {
        ...fast,
        schedule: { base: 0, warmupSteps: 0, decay: 'constant' as const, finalFactor: 0 },
        patience: 2,
        checkpointPath: join(dir, 'stopped.ckpt'),
      };
      const first = await train(createBagModel(bag, createRandom(1)), trainSet, validation, frozen);
      expect(first.stoppedEarly).toBe(true);
      const seen: number[] = [];
      const again = await train(createBagModel(bag, createRandom(1)), trainSet, validation, frozen, (p) =>
        seen.push(p.epoch),
      );
      expect(seen).toEqual([]);
      expect(again.stoppedEarly).toBe(true);
      expect(again.bestEpoch).toBe(first.bestEpoch);
      expect(Array.from(again.validationLogits)).toEqual(Array.from(first.validationLogits));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies class weights (a zero-weight class is never learned)', async () => {
    const model = createBagModel(bag, createRandom(1));
    const classWeights = Float32Array.of(0, 1, 1, 1, 1);
    const result = await train(model, trainSet, null, { ...fast, classWeights });
    let predictedZero = 0;
    for (let i = 0; i < 100; i++) {
      const input = validation.batch(Int32Array.of(i));
      const logits = model.forward(input, null);
      if (logits.indexOf(Math.max(...logits)) === 0) predictedZero++;
    }
    expect(result.validationLogits.length).toBe(0);
    expect(predictedZero).toBe(0);
  });
});

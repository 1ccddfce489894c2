/**
 * Trains one architecture on the development split and prints acc@1, acc@5, oracle coverage at 95/98 %
 * precision (threshold chosen on the test set, as bench/PEERS.md does for the peers), train seconds and peak RSS.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/train-dev.js TRAIN.csv TEST.csv ARCH [JSON-overrides]
 *   (or, without building: node -r ./bench/swc-register.js bench/train-dev.ts ...)
 * ARCH: linear | bag | dnn. SAVE_TEST_LOGITS=FILE writes the test logits (float32 [items, classes]). Overrides:
 * {"encoder": {...}, "model": {...}, "trainer": {...}, "vocabulary": {"minCount": n}, "holdout": 0.1}.
 * Labels are HS6 (first six digits); several codes separated by ';' all count as correct.
 */
import { writeFileSync } from 'node:fs';
import { devMetrics, readRows } from './dev-metrics';
import { createRandom, shuffleInPlace } from '../shared/math/random';
import { TextEncoderConfig, buildVocabulary, encodeBag, resolveEncoderConfig } from '../shared/text/encoder';
import { BagModelConfig, BagNetwork, LinearModel, bagExamples, createBagModel } from '../training/models';
import { inverseDocumentFrequencies } from '../training/models/feature-weights';
import { TrainerConfig, predictLogits, train } from '../training/trainer';
import { createOnnxHeadEngine } from '../training/nn/head-engine';

async function main(): Promise<void> {
  const [trainPath, testPath, arch = 'bag', overridesJson = '{}'] = process.argv.slice(2);
  if (!trainPath || !testPath) throw new Error('usage: train-dev TRAIN.csv TEST.csv ARCH [JSON]');
  const overrides = JSON.parse(overridesJson) as {
    encoder?: Partial<TextEncoderConfig>;
    model?: Partial<BagModelConfig>;
    trainer?: Partial<TrainerConfig>;
    /** Learn an exact vocabulary from the training rows (features in at least minCount texts) instead of hashing. */
    vocabulary?: { minCount: number };
    /**
     * Share of the training rows held out for early stopping. Default 0.1; 0 fits on every row for the full
     * epochs (as the peers do) and keeps the last weights.
     */
    holdout?: number;
  };
  const linear = arch === 'linear';
  const trainRows = readRows(trainPath);
  const baseEncoder = resolveEncoderConfig({ buckets: linear ? 1 << 15 : 1 << 18, ...overrides.encoder });
  const encoder = overrides.vocabulary
    ? buildVocabulary(
        trainRows.map((r) => r.description),
        baseEncoder,
        overrides.vocabulary.minCount,
      )
    : baseEncoder;
  const testRows = readRows(testPath);
  const classNames = [...new Set(trainRows.map((r) => r.codes[0]!))].sort();
  const classIndex = new Map(classNames.map((c, i) => [c, i]));
  const classes = classNames.length;

  const t0 = Date.now();
  const allBags = trainRows.map((r) => encodeBag(r.description, encoder));
  const testBags = testRows.map((r) => encodeBag(r.description, encoder));
  const encodeSeconds = (Date.now() - t0) / 1000;

  // 10 % of the training part is the validation set for early stopping.
  const order = Int32Array.from({ length: trainRows.length }, (_, i) => i);
  shuffleInPlace(order, createRandom(7));
  const validationCount = Math.round(trainRows.length * (overrides.holdout ?? 0.1));
  const pick = (idx: Int32Array) => ({
    bags: Array.from(idx, (i) => allBags[i]!),
    labels: Int32Array.from(idx, (i) => classIndex.get(trainRows[i]!.codes[0]!)!),
  });
  const fit = pick(order.subarray(validationCount));
  const validation = pick(order.subarray(0, validationCount));

  const modelConfig: BagModelConfig = linear
    ? { kind: 'linear', rows: encoder.buckets + 1, classes, ...(overrides.model as object) }
    : arch === 'dnn'
      ? {
          kind: 'dnn',
          rows: encoder.buckets + 1,
          dim: 128,
          hidden: [256],
          dropout: 0.2,
          pooling: 'sqrt',
          classes,
          ...(overrides.model as object),
        }
      : {
          kind: 'bag',
          rows: encoder.buckets + 1,
          dim: 100,
          hidden: [],
          dropout: 0,
          pooling: 'sqrt',
          classes,
          ...(overrides.model as object),
        };
  const model = createBagModel(modelConfig, createRandom(1));
  // idf from the fitting part only, as a pipeline would compute it from its training data.
  if ((model instanceof BagNetwork || model instanceof LinearModel) && model.featureWeights)
    model.setFeatureWeights(inverseDocumentFrequencies(fit.bags, modelConfig.rows));
  const trainerConfig: Partial<TrainerConfig> = linear
    ? {
        optimizer: { kind: 'sgd', weightDecay: 0 },
        schedule: { base: 60, warmupSteps: 0, decay: 'linear', finalFactor: 0 },
        clipNorm: 0,
        epochs: 8,
      }
    : {};
  Object.assign(trainerConfig, overrides.trainer);
  const t1 = Date.now();
  const cpu0 = process.cpuUsage();
  const result = await train(
    model,
    bagExamples(fit.bags, fit.labels),
    validationCount > 0 ? bagExamples(validation.bags, validation.labels) : null,
    trainerConfig,
    (p) => console.error(JSON.stringify(p)),
  );
  const trainSeconds = (Date.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const trainCpuSeconds = (cpu.user + cpu.system) / 1e6;

  const engine = model.head ? await createOnnxHeadEngine(model.head.inputs, classes) : null;
  const testSet = bagExamples(testBags, new Int32Array(testBags.length));
  const logits = await predictLogits(model, testSet, engine);
  await engine?.close();
  // Test logits for offline ensembling (bench/ensemble-dev.ts), when asked for.
  const logitsOut = process.env.SAVE_TEST_LOGITS;
  if (logitsOut)
    writeFileSync(logitsOut, new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
  const metrics = devMetrics(logits, classes, classNames, testRows);
  console.log(
    JSON.stringify({
      arch,
      model: { ...modelConfig },
      encoder: { ...encoder, vocabulary: encoder.vocabulary?.length },
      ...metrics,
      bestEpoch: result.bestEpoch,
      encodeSeconds,
      trainSeconds,
      trainCpuSeconds,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

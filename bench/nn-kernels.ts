/**
 * Where training time goes: one step of the dense softmax head (batch x width -> 2,372 classes, forward and
 * backward), on the TypeScript kernels and on onnxruntime-node, plus the sparse Adam update of an embedding table.
 *
 *   node -r ./bench/swc-register.js bench/nn-kernels.ts     (or build with tsc and run dist/bench/nn-kernels.js)
 */
import { createRandom } from '../shared/math/random';
import { HeadEngine, createOnnxHeadEngine, createTypeScriptHeadEngine } from '../training/nn/head-engine';
import { DEFAULT_ADAM, createOptimizer } from '../training/nn/optimizer';
import { Parameter } from '../training/nn/parameter';

const CLASSES = 2372;
const BATCH = 64;
const TRAIN_EXAMPLES = 35000;

async function timeHead(engine: HeadEngine, width: number): Promise<number> {
  const rng = createRandom(1);
  const h = Float32Array.from({ length: BATCH * width }, () => rng.normal());
  const weight = new Parameter('w', [width, CLASSES]);
  const bias = new Parameter('b', [CLASSES]);
  weight.value.forEach((_, i) => (weight.value[i] = rng.normal() * 0.01));
  const labels = Int32Array.from({ length: BATCH }, () => rng.int(CLASSES));
  await engine.step(h, BATCH, weight, bias, labels, null);
  const reps = engine.name === 'typescript' ? 10 : 100;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) await engine.step(h, BATCH, weight, bias, labels, null);
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}

function timeSparseAdam(dim: number, touchedRows: number): number {
  const table = new Parameter('embedding', [1 << 18, dim], true);
  const optimizer = createOptimizer([table], DEFAULT_ADAM);
  const rng = createRandom(2);
  const reps = 20;
  let total = 0n;
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < touchedRows; i++) {
      const row = 1 + rng.int((1 << 18) - 1);
      table.touched!.add(row);
      table.grad[row * dim] = 1;
    }
    const t0 = process.hrtime.bigint();
    optimizer.step(1e-3);
    total += process.hrtime.bigint() - t0;
  }
  return Number(total) / 1e6 / reps;
}

async function main(): Promise<void> {
  for (const width of [64, 128, 256]) {
    const ts = await timeHead(createTypeScriptHeadEngine(), width);
    const onnx = await createOnnxHeadEngine(width, CLASSES, 2);
    const ort = await timeHead(onnx, width);
    await onnx.close();
    const perEpoch = (ms: number) => +((ms * TRAIN_EXAMPLES) / BATCH / 1000).toFixed(1);
    console.log(
      JSON.stringify({
        head: `${BATCH}x${width}->${CLASSES}`,
        typescript_ms_per_step: +ts.toFixed(2),
        onnxruntime_ms_per_step: +ort.toFixed(2),
        typescript_s_per_epoch: perEpoch(ts),
        onnxruntime_s_per_epoch: perEpoch(ort),
      }),
    );
  }
  // About 3,000 distinct rows per batch of 64 descriptions with the default encoder.
  for (const dim of [64, 100]) {
    const ms = timeSparseAdam(dim, 3000);
    console.log(JSON.stringify({ sparseAdam: `3000 rows x ${dim}`, ms_per_step: +ms.toFixed(2) }));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

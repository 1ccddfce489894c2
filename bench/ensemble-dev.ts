/**
 * Averages the probabilities of several runs' saved test logits (bench/train-dev.ts with SAVE_TEST_LOGITS) and
 * prints the same metrics: node -r ./bench/swc-register.js bench/ensemble-dev.ts TRAIN.csv TEST.csv A.f32[:w] ...
 */
import { readFileSync } from 'node:fs';
import { devMetrics, readRows } from './dev-metrics';

function main(): void {
  const [trainPath, testPath, ...runs] = process.argv.slice(2);
  if (!trainPath || !testPath || runs.length === 0)
    throw new Error('usage: ensemble-dev TRAIN.csv TEST.csv A.f32[:w] ...');
  const classNames = [...new Set(readRows(trainPath).map((r) => r.codes[0]!))].sort();
  const testRows = readRows(testPath);
  const classes = classNames.length;
  const mixed = new Float32Array(testRows.length * classes);
  for (const run of runs) {
    const [path, weightText] = run.split(':');
    const weight = weightText === undefined ? 1 : Number(weightText);
    const bytes = readFileSync(path!);
    const logits = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    );
    if (logits.length !== mixed.length)
      throw new Error(`${path}: ${logits.length} values, expected ${mixed.length}`);
    for (let i = 0; i < testRows.length; i++) {
      const o = i * classes;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, logits[o + c]!);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(logits[o + c]! - max);
      for (let c = 0; c < classes; c++)
        mixed[o + c] = mixed[o + c]! + (weight * Math.exp(logits[o + c]! - max)) / sum;
    }
  }
  // devMetrics takes logits; the log of the mixed probabilities has the same ranking and softmax.
  for (let i = 0; i < mixed.length; i++) mixed[i] = Math.log(Math.max(mixed[i]!, 1e-30));
  console.log(JSON.stringify({ runs, ...devMetrics(mixed, classes, classNames, testRows) }));
}

main();

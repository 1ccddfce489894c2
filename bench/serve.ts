/**
 * In-process serving benchmark: cold load, then per-item latency (encode + ONNX + post-processing) p50 / p99 for
 * single items and batches of 100 and 1,000, and throughput, for each session tuning.
 *
 *   npm run bench:serve -- [--package FOLDER] [--texts TEXTS.csv] [--fasttext-train TRAIN.csv]
 * With `--fasttext-train` and `--texts` (and `fasttext` on PATH), the fastText peer's prediction throughput over
 * the same texts is measured in the same run (bench/fasttext-peer.ts) for the side-by-side comparison.
 * Without a package folder it builds a model of production size (bag of embeddings, 2^18 buckets, dim 64,
 * 2,372 classes, random weights: speed does not depend on the weights). Without a CSV (first column =
 * description) it generates five-word descriptions. Prints one JSON object per measurement.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { measureFastTextPredict } from './fasttext-peer';
import { loadNomenclature } from '../shared/hs/nomenclature';
import { classifyBatch } from '../shared/inference/classify';
import { loadServingModel, type ServingModel, type SessionTuning } from '../shared/inference/model';
import { createRandom } from '../shared/math/random';
import {
  buildModelPackage,
  folderPackageFiles,
  readModelPackage,
  type ModelPackage,
} from '../shared/model-package/package';
import { MANIFEST_FILE } from '../shared/model-package/manifest';
import { describeEncoder, resolveEncoderConfig } from '../shared/text/encoder';
import { createBagModel } from '../training/models';
import { exportBagModel, INPUT_NAME, LOGITS_NAME } from '../training/onnx/export';
import { percentile } from './percentile';

export function syntheticPackage(): ModelPackage {
  const encoder = resolveEncoderConfig();
  const nomenclature = loadNomenclature();
  const codes = nomenclature.hs6Codes().slice(0, 2372);
  const rng = createRandom(1);
  const model = createBagModel(
    { kind: 'bag', rows: encoder.buckets + 1, dim: 64, hidden: [], dropout: 0, classes: codes.length },
    rng,
  );
  for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.value[i] = rng.normal() * 0.1;
  const descriptor = describeEncoder(encoder);
  const bytes = exportBagModel(model, { encoder: descriptor, classNames: codes });
  const built = buildModelPackage(
    {
      modelVersion: 'bench-synthetic',
      createdAt: new Date(0).toISOString(),
      arch: { kind: 'bag', config: { ...model.config }, inputLayout: 'bag' },
      onnx: { file: 'model.onnx', input: INPUT_NAME, logits: LOGITS_NAME, maxFeatures: 512 },
      encoder: descriptor,
      labels: { level: 6, codes },
      temperature: 1,
      thresholds: {
        auto: 0.9,
        autoPrecision: 0.98,
        heading: 0.9,
        headingPrecision: 0.98,
        targetPrecision: 0.98,
      },
      metrics: {},
      dataset: { version: 'none', contentHash: 'none' },
      hyperParameters: {},
      seed: 1,
      codeVersion: 'bench',
    },
    new Map([['model.onnx', bytes]]),
  );
  return {
    manifest: built.manifest,
    packageHash: built.packageHash,
    files: built.files,
    location: `memory (${built.files.get('model.onnx')!.byteLength} bytes of ONNX)`,
  };
}

export function texts(csvPath: string | undefined, count: number): string[] {
  if (csvPath !== undefined) {
    const rows = parse<{ description: string }>(readFileSync(csvPath), {
      columns: true,
      skip_empty_lines: true,
    });
    return rows.slice(0, count).map((row) => row.description);
  }
  const rng = createRandom(2);
  const vocab = [
    'cotton',
    'shirt',
    'steel',
    'bolt',
    'm8',
    'laptop',
    'pcs',
    '500ml',
    'plastic',
    'bag',
    'led',
    'lamp',
    'coffee',
    'roasted',
    'rubber',
    'hose',
    'spare',
    'part',
    'for',
    'pump',
    'x12',
    'black',
    'women',
  ];
  return Array.from({ length: count }, () =>
    Array.from({ length: 3 + rng.int(5) }, () => vocab[rng.int(vocab.length)]!).join(' '),
  );
}

async function measure(model: ServingModel, pool: string[], batch: number, runs: number, explain: boolean) {
  const perItem: number[] = [];
  let items = 0;
  const started = performance.now();
  for (let run = 0; run < runs; run++) {
    const offset = (run * batch) % Math.max(1, pool.length - batch);
    const slice = pool.slice(offset, offset + batch);
    const t0 = performance.now();
    await classifyBatch(model, slice, { topK: 5, explain });
    perItem.push((performance.now() - t0) / slice.length);
    items += slice.length;
  }
  const seconds = (performance.now() - started) / 1000;
  perItem.sort((a, b) => a - b);
  return {
    batch,
    explain,
    runs,
    p50MsPerItem: +percentile(perItem, 50).toFixed(4),
    p99MsPerItem: +percentile(perItem, 99).toFixed(4),
    itemsPerSecond: Math.round(items / seconds),
  };
}

async function main(): Promise<void> {
  const folder = option('--package');
  const csv = option('--texts');
  const fastTextTrain = option('--fasttext-train');
  const t0 = performance.now();
  const pkg = folder === undefined ? syntheticPackage() : await readModelPackage(folderPackageFiles(folder));
  const readMs = performance.now() - t0;
  if (folder !== undefined && !pkg.files.has(MANIFEST_FILE)) console.error(`read ${pkg.location}`);
  const pool = texts(csv, 5000);
  const nomenclature = loadNomenclature();
  const tunings: SessionTuning[] = [
    { intraOpThreads: 1, graphOptimization: 'all' },
    { intraOpThreads: 2, graphOptimization: 'all' },
    { intraOpThreads: 1, graphOptimization: 'basic' },
  ];
  for (const tuning of tunings) {
    const model = await loadServingModel(pkg, nomenclature, tuning);
    console.log(
      JSON.stringify({
        tuning,
        package: pkg.location,
        readMs: +readMs.toFixed(1),
        coldLoadMs: +model.loadMs.toFixed(1),
      }),
    );
    for (const explain of [false, true]) {
      await measure(model, pool, 10, 20, explain);
      console.log(JSON.stringify({ tuning, ...(await measure(model, pool, 1, 2000, explain)) }));
      console.log(JSON.stringify({ tuning, ...(await measure(model, pool, 100, 100, explain)) }));
      console.log(JSON.stringify({ tuning, ...(await measure(model, pool, 1000, 15, explain)) }));
    }
    await model.release();
  }
  if (fastTextTrain !== undefined && csv !== undefined) {
    console.log(
      JSON.stringify({ peer: 'fasttext predict-prob (k=5)', ...measureFastTextPredict(fastTextTrain, csv) }),
    );
  }
}

/** The value after `name` on the command line, if any. */
function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

if (require.main === module)
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });

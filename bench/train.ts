/**
 * `npm run bench:train`: every architecture and the peers, side by side, on one development split.
 *
 *   npm run bench:train -- [--data ../shared/data/declarations-train.csv] [--archs linear,svm,bag,dnn,textcnn,gru]
 *     [--epochs E | --epochs ARCH=E,ARCH=E] [--balance none|upsample|class-weights] [--no-peers] [--out bench/out/train]
 *
 * `--epochs 8` sets every architecture's epochs; `--epochs textcnn=8,gru=8` only those named, the others keep their
 * pipeline defaults (so the Text-CNN can match the PyTorch peer's 8 epochs while the best model keeps its own).
 * `--balance` overrides every architecture's class-imbalance remedy (default: the pipeline's, stratified up-sampling),
 * to measure the remedies against each other.
 *
 * Each training gets the split's test part as its test file (`npm run train -- --test`), so nothing else is held out
 * of the rows the peers train on but the 10 % validation part (early stopping, temperature, thresholds), which the
 * architectures that refit (svm, bag) then train on too. The package's own test metrics are then measured on the
 * same rows as the table's.
 *
 * 1. Splits the data with `../shared/bench/split.py` (stable hash of the description: no description on both sides).
 * 2. Trains each architecture with `npm run train` (`dist/training/cli/train.js`) in its own process, so wall time,
 *    CPU time and peak memory belong to that run alone; the package's thresholds come from its own validation part.
 * 3. Scores each package on the test part through the serving path (`shared/inference`): accuracy@1 and @5,
 *    coverage and precision at the package's own 98 % threshold (chosen on validation), and the peers' optimistic
 *    coverage (threshold chosen on the test set itself), for the side-by-side comparison.
 * 4. Runs `../shared/bench/peers.py` on the same split (Debian's python3 with fasttext, scikit-learn, torch).
 * Prints one Markdown table. Development data never enters the repository: everything goes to `--out` (ignored).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadNomenclature } from '../shared/hs/nomenclature';
import { classifyBatch } from '../shared/inference/classify';
import { loadServingModel } from '../shared/inference/model';
import { folderPackageFiles, readModelPackage } from '../shared/model-package/package';
import { findProjectRoot } from '../shared/project';
import {
  ARCH_DEFAULTS,
  DEFAULT_CANDIDATE,
  DEFAULT_EPOCHS,
  DEFAULT_REFIT,
  type Architecture,
} from '../training/pipeline/spec';

const ROOT = findProjectRoot();
/**
 * The two models that lead the table, the svm on accuracy@1 and the bag on coverage at 98 % precision: their rows
 * spell out the pipeline defaults they ran with, so the table reads against the peers.
 */
const DETAILED_ARCHS: readonly Architecture[] = ['svm', 'bag'];

function rowName(arch: string, epochs: string | undefined, balance: string | undefined): string {
  const detailed = DETAILED_ARCHS.find((a) => a === arch);
  if (detailed === undefined) return balance === undefined ? arch : `${arch} (balance ${balance})`;
  const settings = Object.entries(ARCH_DEFAULTS[detailed])
    .map(([name, value]) => `${name} ${String(value)}`)
    .join(', ');
  // The svm is solved to a tolerance, not trained in epochs.
  const trained = detailed === 'svm' ? '' : `, ${epochs ?? DEFAULT_EPOCHS[detailed]} epochs`;
  const refit = DEFAULT_REFIT[detailed] ? ', refit on training + validation' : '';
  const balanced = `, balance ${balance ?? DEFAULT_CANDIDATE.balance}`;
  return `**${arch}** (${settings}${trained}${refit}${balanced})`;
}
const TEAM_BENCH = resolve(ROOT, '..', 'shared', 'bench');

interface Row {
  readonly description: string;
  readonly hs_code: string;
}

interface ResultRow {
  readonly name: string;
  readonly acc1: number;
  readonly acc5: number;
  readonly coverageAt98: number | undefined;
  readonly precisionAt98: number | undefined;
  readonly oracleCoverageAt95: number;
  readonly oracleCoverageAt98: number;
  readonly trainSeconds: number;
  readonly cpuSeconds: number | undefined;
  readonly peakRssMb: number | undefined;
}

function option(name: string, fallback?: string): string | undefined {
  const args = process.argv.slice(2);
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
}

/** Share of items decidable at `target` precision with the threshold chosen on these very items (peers.py's way). */
function oracleCoverage(hits: readonly boolean[], confidences: readonly number[], target: number): number {
  const order = confidences.map((_, i) => i).sort((a, b) => confidences[b]! - confidences[a]!);
  let correct = 0;
  let best = 0;
  order.forEach((item, rank) => {
    if (hits[item]) correct++;
    if (correct / (rank + 1) >= target) best = rank + 1;
  });
  return best / hits.length;
}

function trueCodes(row: Row): Set<string> {
  return new Set(row.hs_code.split(';').map((code) => code.trim().replace(/[.\s]/g, '').slice(0, 6)));
}

async function scorePackage(
  folder: string,
  test: readonly Row[],
): Promise<Omit<ResultRow, 'name' | 'trainSeconds' | 'cpuSeconds' | 'peakRssMb'>> {
  const model = await loadServingModel(
    await readModelPackage(folderPackageFiles(folder)),
    loadNomenclature(),
  );
  try {
    const hits: boolean[] = [];
    const hits5: boolean[] = [];
    const confidences: number[] = [];
    let auto = 0;
    let autoCorrect = 0;
    for (let start = 0; start < test.length; start += 500) {
      const batch = test.slice(start, start + 500);
      const { items } = await classifyBatch(
        model,
        batch.map((row) => row.description),
        { topK: 5, explain: false },
      );
      items.forEach((item, i) => {
        const truth = trueCodes(batch[i]!);
        const top = item.codes[0];
        const hit = top !== undefined && truth.has(top.code);
        hits.push(hit);
        hits5.push(item.codes.some((code) => truth.has(code.code)));
        confidences.push(top?.confidence ?? 0);
        if (item.decision.outcome === 'auto') {
          auto++;
          if (hit) autoCorrect++;
        }
      });
    }
    const mean = (values: readonly boolean[]): number => values.filter(Boolean).length / values.length;
    return {
      acc1: mean(hits),
      acc5: mean(hits5),
      coverageAt98: auto / test.length,
      precisionAt98: auto > 0 ? autoCorrect / auto : undefined,
      oracleCoverageAt95: oracleCoverage(hits, confidences, 0.95),
      oracleCoverageAt98: oracleCoverage(hits, confidences, 0.98),
    };
  } finally {
    await model.release();
  }
}

function trainArchitecture(
  arch: string,
  trainCsv: string,
  testCsv: string,
  out: string,
  epochs: string | undefined,
  balance: string | undefined,
) {
  const args = [
    join(ROOT, 'dist', 'training', 'cli', 'train.js'),
    '--data',
    trainCsv,
    '--arch',
    arch,
    '--out',
    out,
    '--test',
    testCsv,
    '--validation-fraction',
    '0.1',
  ];
  if (epochs !== undefined) args.push('--epochs', epochs);
  if (balance !== undefined) args.push('--balance', balance);
  const started = performance.now();
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const seconds = (performance.now() - started) / 1000;
  if (child.status !== 0) throw new Error(`training ${arch} failed (exit ${child.status ?? child.signal})`);
  const summary = JSON.parse(child.stdout) as { peakRssMb?: number; cpuSeconds?: number };
  return { seconds, peakRssMb: summary.peakRssMb, cpuSeconds: summary.cpuSeconds };
}

interface PeerLine {
  peer: string;
  train_s: number;
  [test: string]: unknown;
}

function runPeers(trainCsv: string, testCsv: string): ResultRow[] {
  const output = execFileSync(
    '/usr/bin/python3',
    [join(TEAM_BENCH, 'peers.py'), trainCsv, `test=${testCsv}`],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const parsed = JSON.parse(line) as PeerLine;
      const test = parsed.test as Record<string, number>;
      return {
        name: `peer: ${parsed.peer}`,
        acc1: test.acc1 ?? NaN,
        acc5: test.acc5 ?? NaN,
        coverageAt98: undefined,
        precisionAt98: undefined,
        oracleCoverageAt95: test.coverage_at_95 ?? NaN,
        oracleCoverageAt98: test.coverage_at_98 ?? NaN,
        trainSeconds: parsed.train_s,
        cpuSeconds: undefined,
        peakRssMb: undefined,
      };
    });
}

/** `--epochs`: absent (every architecture its default), one number for all, or `arch=E` pairs. */
function epochsOption(text: string | undefined): (arch: string) => string | undefined {
  if (text === undefined || /^\d+$/.test(text)) return () => text;
  const perArch = new Map<string, string>();
  for (const pair of text.split(',')) {
    const [arch, epochs] = pair.split('=');
    if (arch === undefined || epochs === undefined || !/^\d+$/.test(epochs))
      throw new Error(`--epochs: expected a number or arch=number pairs, got '${text}'`);
    perArch.set(arch, epochs);
  }
  return (arch) => perArch.get(arch);
}

const fixed = (value: number | undefined, digits = 3): string =>
  value === undefined ? '–' : value.toFixed(digits);

async function main(): Promise<void> {
  const data = resolve(option('--data', join(ROOT, '..', 'shared', 'data', 'declarations-train.csv'))!);
  const archs = option('--archs', 'linear,svm,bag,dnn,textcnn,gru')!.split(',');
  const epochsFor = epochsOption(option('--epochs'));
  const balance = option('--balance');
  const out = resolve(option('--out', join(ROOT, 'bench', 'out', 'train'))!);
  if (!existsSync(join(ROOT, 'dist', 'training', 'cli', 'train.js')))
    throw new Error('run `npm run build` first');
  mkdirSync(out, { recursive: true });
  const trainCsv = join(out, 'dev-train.csv');
  const testCsv = join(out, 'dev-test.csv');
  execFileSync('/usr/bin/python3', [join(TEAM_BENCH, 'split.py'), data, trainCsv, testCsv], {
    stdio: 'inherit',
  });
  const test = parse<Row>(readFileSync(testCsv), { columns: true, skip_empty_lines: true });

  const withPeers = !process.argv.includes('--no-peers');
  // Before half an hour of training, not after it.
  if (withPeers) checkPeerPrerequisites();

  const rows: ResultRow[] = [];
  for (const arch of archs) {
    console.error(`== ${arch}`);
    const epochs = epochsFor(arch);
    const trained = trainArchitecture(arch, trainCsv, testCsv, join(out, arch), epochs, balance);
    const row = {
      name: rowName(arch, epochs, balance),
      ...(await scorePackage(join(out, arch), test)),
      trainSeconds: trained.seconds,
      cpuSeconds: trained.cpuSeconds,
      peakRssMb: trained.peakRssMb,
    };
    rows.push(row);
    // Each row as it is measured, so a later failure loses nothing.
    console.error(`${TABLE_HEADER}\n${tableLine(row)}`);
  }
  if (withPeers) rows.push(...runPeers(trainCsv, testCsv));

  console.log(`\ndata ${data}: ${test.length} test rows; ${new Date().toISOString()}\n`);
  console.log(TABLE_HEADER);
  for (const row of rows) console.log(tableLine(row));
}

const TABLE_HEADER =
  '| model | acc@1 | acc@5 | coverage@98 % (own threshold) | its precision | oracle coverage@95 % | oracle coverage@98 % | train s (wall) | train CPU s | peak RSS MB |\n' +
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |';

function tableLine(row: ResultRow): string {
  return (
    `| ${row.name} | ${fixed(row.acc1)} | ${fixed(row.acc5)} | ${fixed(row.coverageAt98)} | ${fixed(row.precisionAt98)} | ` +
    `${fixed(row.oracleCoverageAt95)} | ${fixed(row.oracleCoverageAt98)} | ${fixed(row.trainSeconds, 0)} | ` +
    `${fixed(row.cpuSeconds, 0)} | ${row.peakRssMb ?? '–'} |`
  );
}

/** The peers need Debian's python3 with numpy, scikit-learn and torch, and the fastText command. */
function checkPeerPrerequisites(): void {
  const probe = spawnSync(
    '/bin/sh',
    ['-c', "/usr/bin/python3 -c 'import numpy, sklearn, torch' && command -v fasttext"],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0)
    throw new Error(
      'the peers need python3-numpy, python3-sklearn, python3-torch and fasttext (apt-get install them, or pass ' +
        `--no-peers): ${(probe.stderr || probe.error?.message || 'fasttext not found').trim()}`,
    );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});

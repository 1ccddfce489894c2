/**
 * Trains one model package from a labelled CSV:
 *   npm run train -- --data FILE.csv --arch textcnn --out DIR [--tune N] [--seed S] [--epochs E]
 *     [--balance none|upsample|class-weights] [--buckets B] [--test-fraction F | --test TEST.csv]
 *     [--validation-fraction F] [--refit on|off]
 * Writes DIR/manifest.json, DIR/model.onnx, DIR/monitoring-reference.json, DIR/evaluation.json and DIR/report.md.
 * With --tune N, N TPE trials (scored on validation accuracy, never on test) run one after another and the best
 * trial's package is written; trials skip the refit (`--refit`, default per architecture), which then runs once
 * for the best trial's settings. With --test, the test metrics are measured on that labelled file and no test part is
 * split off --data (every row is trained or validated on); its codes absent from --data count as errors.
 * Progress goes to stderr, the summary (JSON) to stdout.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadNomenclature, type Nomenclature } from '../../shared/hs/nomenclature';
import { readLabelledCsv } from '../data/labelled-csv';
import { renderMarkdownReport } from '../evaluation/report';
import { trainCandidate, type CandidateResult, type SeparateTestSet } from '../pipeline/candidate';
import { codeVersion } from '../pipeline/code-version';
import { isArchitecture, resolveCandidateSpec, SEARCH_SPACES, type CandidateSpec } from '../pipeline/spec';
import { runTuning } from '../tuning/tpe';

interface Arguments {
  data: string;
  test: string | undefined;
  arch: CandidateSpec['arch'];
  out: string;
  tune: number;
  seed: number;
  epochs: number | undefined;
  balance: CandidateSpec['balance'] | undefined;
  buckets: number | undefined;
  testFraction: number | undefined;
  validationFraction: number | undefined;
  refit: boolean | undefined;
}

const USAGE =
  'usage: npm run train -- --data FILE.csv --arch linear|svm|bag|dnn|textcnn|gru --out DIR [--tune N] [--seed S] ' +
  '[--epochs E] [--balance none|upsample|class-weights] [--buckets B] [--test-fraction F | --test TEST.csv] ' +
  '[--validation-fraction F] ' +
  '[--refit on|off]';

export function parseArguments(argv: readonly string[]): Arguments {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!;
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) throw new Error(`${USAGE}\n(bad argument '${name}')`);
    values.set(name.slice(2), value);
  }
  const known = new Set([
    'data',
    'test',
    'arch',
    'out',
    'tune',
    'seed',
    'epochs',
    'balance',
    'buckets',
    'test-fraction',
    'validation-fraction',
    'refit',
  ]);
  for (const name of values.keys())
    if (!known.has(name)) throw new Error(`${USAGE}\n(unknown option --${name})`);
  const integer = (name: string, fallback: number | undefined, min: number): number | undefined => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return value;
  };
  // Range checks are resolveCandidateSpec's; here only that it is a number.
  const fraction = (name: string): number | undefined => {
    const raw = values.get(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(`--${name} must be a number`);
    return value;
  };
  const data = values.get('data');
  const out = values.get('out');
  const arch = values.get('arch') ?? 'textcnn';
  if (data === undefined || out === undefined) throw new Error(`${USAGE}\n(--data and --out are required)`);
  if (values.has('test') && values.has('test-fraction'))
    throw new Error(
      `${USAGE}\n(--test and --test-fraction exclude each other: with --test nothing is split off)`,
    );
  if (!isArchitecture(arch)) throw new Error(`${USAGE}\n(unknown architecture '${arch}')`);
  const balance = values.get('balance');
  if (balance !== undefined && balance !== 'none' && balance !== 'upsample' && balance !== 'class-weights') {
    throw new Error(`${USAGE}\n(unknown balance '${balance}')`);
  }
  const refit = values.get('refit');
  if (refit !== undefined && refit !== 'on' && refit !== 'off') {
    throw new Error(`${USAGE}\n(--refit must be on or off, got '${refit}')`);
  }
  return {
    data,
    test: values.get('test'),
    out,
    arch,
    tune: integer('tune', 0, 0)!,
    seed: integer('seed', 1, 0)!,
    epochs: integer('epochs', undefined, 1),
    balance,
    buckets: integer('buckets', undefined, 2),
    testFraction: fraction('test-fraction'),
    validationFraction: fraction('validation-fraction'),
    refit: refit === undefined ? undefined : refit === 'on',
  };
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The --test file, indexed against the training data's classes; its codes outside them come after and count as errors. */
async function readTestSet(
  path: string,
  labelSet: readonly string[],
  nomenclature: Nomenclature,
  log: (message: string) => void,
): Promise<SeparateTestSet> {
  const test = await readLabelledCsv(path, nomenclature, { labelSet, unseenLabels: 'append' });
  const unseen = test.labels.reduce((count, label) => count + (label >= labelSet.length ? 1 : 0), 0);
  log(
    `test file: ${test.texts.length} rows, ${test.rejected.length} rejected, ${unseen} with codes the training ` +
      'data lacks (counted as errors)',
  );
  const contentHash = await fileSha256(path);
  return { ...test, identity: { version: `file-${contentHash.slice(0, 16)}`, contentHash } };
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  const started = Date.now();
  const log = (message: string): void => {
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
  };
  const nomenclature = loadNomenclature();
  const data = await readLabelledCsv(args.data, nomenclature);
  const contentHash = await fileSha256(args.data);
  const dataset = { version: `file-${contentHash.slice(0, 16)}`, contentHash };
  log(`${data.texts.length} rows, ${data.labelSet.length} classes, ${data.rejected.length} rows rejected`);
  const testSet =
    args.test === undefined ? undefined : await readTestSet(args.test, data.labelSet, nomenclature, log);
  const base = resolveCandidateSpec({
    arch: args.arch,
    seed: args.seed,
    ...(args.epochs === undefined ? {} : { epochs: args.epochs }),
    ...(args.balance === undefined ? {} : { balance: args.balance }),
    ...(args.buckets === undefined ? {} : { encoder: { buckets: args.buckets } }),
    ...(args.testFraction === undefined ? {} : { testFraction: args.testFraction }),
    ...(args.validationFraction === undefined ? {} : { validationFraction: args.validationFraction }),
    ...(args.refit === undefined ? {} : { refit: args.refit }),
  });
  const modelVersion = `${args.arch}-${contentHash.slice(0, 12)}-s${args.seed}`;
  const createdAt = new Date().toISOString();
  const version = codeVersion();
  const trainOne = async (spec: CandidateSpec, label: string): Promise<CandidateResult> => {
    let refitting = false;
    return trainCandidate(
      data,
      spec,
      {
        dataset,
        modelVersion,
        createdAt,
        codeVersion: version,
        nomenclature,
        ...(testSet ? { testSet } : {}),
      },
      {
        onStage: (stage) => {
          refitting = stage === 'refitting';
          log(`${label}: ${stage}`);
        },
        onEpoch: (p) =>
          log(
            // The svm reports tenths of its classes solved rather than epochs.
            `${label}: ${spec.arch === 'svm' ? 'classes' : 'epoch'} ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} ` +
              (Number.isNaN(p.validationAccuracy)
                ? ''
                : `validation acc@1 ${p.validationAccuracy.toFixed(4)} `) +
              // The refit has no validation part: its epochs were chosen on the first run's.
              (refitting ? '(refit) ' : '') +
              `(${p.elapsedSeconds.toFixed(1)}s)`,
          ),
      },
    );
  };

  let best: CandidateResult;
  if (args.tune > 0) {
    const results = new Map<number, CandidateResult>();
    const outcome = await runTuning(
      { space: SEARCH_SPACES[args.arch], budget: args.tune, seed: args.seed },
      async (trial) => {
        const result = await trainOne(
          {
            ...base,
            seed: trial.seed,
            hyperParameters: { ...base.hyperParameters, ...trial.params },
            refit: false,
          },
          `trial ${trial.id + 1}/${args.tune} ${JSON.stringify(trial.params)}`,
        );
        results.set(trial.id, result);
        const score = result.evaluation.validation.accuracyAt1;
        log(`trial ${trial.id + 1}: validation acc@1 ${score.toFixed(4)}`);
        return { score };
      },
    );
    if (outcome.best === undefined) throw new Error('every tuning trial failed');
    best = results.get(outcome.best.trial.id)!;
    log(`best trial ${outcome.best.trial.id + 1}: ${JSON.stringify(outcome.best.trial.params)}`);
    if (base.refit) {
      const { trial } = outcome.best;
      best = await trainOne(
        { ...base, seed: trial.seed, hyperParameters: { ...base.hyperParameters, ...trial.params } },
        `best trial ${trial.id + 1}, refitted`,
      );
    }
  } else {
    best = await trainOne(base, args.arch);
  }

  await mkdir(args.out, { recursive: true });
  for (const [name, bytes] of best.files) await writeFile(join(args.out, name), bytes);
  await writeFile(join(args.out, 'evaluation.json'), JSON.stringify(best.evaluation, null, 2) + '\n');
  await writeFile(join(args.out, 'report.md'), renderMarkdownReport(best.evaluation));
  const summary = {
    out: args.out,
    modelVersion: best.modelVersion,
    packageHash: best.packageHash,
    modelHash: best.modelHash,
    metrics: best.manifest.metrics,
    temperature: best.manifest.temperature,
    thresholds: best.manifest.thresholds,
    parityMaxDifference: best.parityMaxDifference,
    seconds: (Date.now() - started) / 1000,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    // Includes ONNX Runtime's threads: the CPU the whole run took, for comparisons on a shared machine.
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}

/**
 * The retraining pipeline's activities as plain async functions over the platform clients, so the Durable
 * registrations in functions/retrain.ts stay thin. Every function is idempotent (training itself, in a worker
 * thread, is worker-runner.ts): a registration or experiment that already happened is found and not repeated.
 */
import type { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { listDatasets } from '../../shared/datasets/service';
import { loadNomenclature } from '../../shared/hs/nomenclature';
import { encodeTokenLists } from '../../shared/inference/features';
import { loadModelFrom, type ServingModel } from '../../shared/inference/model';
import { getExperimentRunner } from '../../shared/lifecycle/default';
import { experimentIdFor } from '../../shared/lifecycle/experiments';
import { blobPackageFiles } from '../../shared/model-package';
import {
  getPipelineStore,
  type CandidateSummary,
  type GateVerdict,
  type PipelineRecord,
} from '../../shared/pipelines/records';
import { getPlatformClients } from '../../shared/platform/clients';
import { BLOB_CONTAINERS } from '../../shared/platform/resources';
import { getModelRegistry } from '../../shared/registry/default';
import { RegistryConflictError, type Actor } from '../../shared/registry/types';
import { tokenize } from '../../shared/text/encoder';
import { readLabelledCsv, type LabelledDataset } from '../data/labelled-csv';
import { FEATURES_PER_TOKEN } from '../nn/sequence/packed';
import { splitForPipeline, type DatasetIdentity } from './candidate';
import { DEFAULT_GATE_POLICY, gate, type GatePolicy } from './gate';
import type { CandidateSpec } from './spec';

export const PIPELINE_ACTOR: Actor = { kind: 'system', id: 'retrain-orchestrator' };
/** Blob prefix (in `models`) of training checkpoints and stored candidate results. */
export const CHECKPOINT_PREFIX = 'checkpoints';
/** A frozen golden set, when the model owner has put one there (same CSV format as a dataset). */
export const GOLDEN_SET_BLOB = 'golden/rows.csv';
/** Uploaded packages must reproduce training's top-1 correctness on at least this share of test rows. */
const MIN_PARITY_AGREEMENT = 0.999;

function models(): ContainerClient {
  return getPlatformClients().dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
}

function datasets(): ContainerClient {
  return getPlatformClients().dataBlobs.getContainerClient(BLOB_CONTAINERS.datasets);
}

export interface ResolvedDataset extends DatasetIdentity {
  readonly rows: number;
}

/**
 * The named dataset version (from its immutable blob manifest, which exists as soon as the version does), or the
 * newest version on record.
 */
export async function resolveDataset(version: string | undefined): Promise<ResolvedDataset> {
  if (version !== undefined) {
    const blob = datasets().getBlobClient(`${version}/manifest.json`);
    if (!(await blob.exists())) throw new Error(`no dataset '${version}'`);
    const manifest = JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as {
      version: string;
      contentSha256: string;
      rows: number;
    };
    return { version: manifest.version, contentHash: manifest.contentSha256, rows: manifest.rows };
  }
  const newest = (await listDatasets())[0];
  if (newest === undefined) throw new Error('there is no dataset version to train on');
  return { version: newest.version, contentHash: newest.contentSha256, rows: newest.rows };
}

async function readDataset(version: string): Promise<LabelledDataset> {
  const download = await datasets().getBlobClient(`${version}/rows.csv`).download();
  if (download.readableStreamBody === undefined) throw new Error(`dataset ${version}: no body`);
  return readLabelledCsv(download.readableStreamBody as Readable, loadNomenclature());
}

export async function savePipeline(record: PipelineRecord): Promise<PipelineRecord> {
  await getPipelineStore().save(record);
  return record;
}

export interface CandidateTask {
  readonly pipelineId: string;
  readonly candidateId: string;
  readonly trial: number | null;
  readonly spec: CandidateSpec;
  readonly dataset: DatasetIdentity;
  /** The pipeline's start time: the manifest's createdAt, so reruns of one pipeline build identical packages. */
  readonly createdAt: string;
}

export interface CandidateOutcome {
  readonly summary: CandidateSummary;
  readonly validationAccuracy: number;
  /** Per test row, whether training's top-1 was right, as base64 bytes (0/1). */
  readonly testCorrect: string;
  readonly resumed: boolean;
  readonly seconds: number;
}

/** The registry version of a pipeline's candidate. */
export function modelVersionFor(task: Pick<CandidateTask, 'pipelineId' | 'candidateId'>): string {
  return `${task.pipelineId}-${task.candidateId}`;
}

/** Top-1 code of every text, in batches, through a serving model. */
async function topCodes(model: ServingModel, texts: readonly string[]): Promise<string[]> {
  const codes: string[] = [];
  const classes = model.codes.length;
  for (let start = 0; start < texts.length; start += 256) {
    const batch = texts.slice(start, start + 256);
    const logits = await model.run(
      encodeTokenLists(
        batch.map((text) => tokenize(text, model.encoder)),
        model.encoder,
        {
          layout: model.manifest.arch.inputLayout,
          maxFeatures: model.manifest.onnx.maxFeatures,
          perToken: model.manifest.onnx.perToken ?? FEATURES_PER_TOKEN,
        },
      ),
    );
    for (let r = 0; r < batch.length; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
      codes.push(model.codes[best]!);
    }
  }
  return codes;
}

function correctness(predicted: readonly string[], truth: readonly string[]): Uint8Array {
  return Uint8Array.from(predicted, (code, i) => (code.slice(0, 6) === truth[i]!.slice(0, 6) ? 1 : 0));
}

export interface GateTask {
  readonly dataset: DatasetIdentity;
  readonly winner: CandidateOutcome;
  readonly split: Pick<CandidateSpec, 'splitSeed' | 'testFraction' | 'validationFraction'>;
  readonly policy?: Partial<GatePolicy>;
}

/**
 * Scores the uploaded winner and the champion on the same held-out rows (and the golden set, if any) through
 * the serving path, checks that the uploaded package reproduces training (parity), and applies the gate.
 */
export async function gateWinner(task: GateTask): Promise<GateVerdict> {
  const policy: GatePolicy = { ...DEFAULT_GATE_POLICY, ...task.policy };
  const nomenclature = loadNomenclature();
  const data = await readDataset(task.dataset.version);
  const split = splitForPipeline(data, task.split);
  const texts = Array.from(split.test, (i) => data.texts[i]!);
  const truth = Array.from(split.test, (i) => data.labelSet[data.labels[i]!]!);
  const registry = getModelRegistry();
  const trained = Uint8Array.from(Buffer.from(task.winner.testCorrect, 'base64'));
  const goldenData = (await datasets().getBlobClient(GOLDEN_SET_BLOB).exists())
    ? await readLabelledCsv(
        (await datasets().getBlobClient(GOLDEN_SET_BLOB).download()).readableStreamBody as Readable,
        nomenclature,
      )
    : undefined;
  const goldenTexts = goldenData?.texts ?? [];
  const goldenTruth = goldenData ? Array.from(goldenData.labels, (l) => goldenData.labelSet[l]!) : [];

  const candidateModel = await loadModelFrom(
    blobPackageFiles(models(), `${task.winner.summary.modelVersion}/`),
    nomenclature,
  );
  let candidateCorrect: Uint8Array;
  let candidateGolden: Uint8Array;
  try {
    candidateCorrect = correctness(await topCodes(candidateModel, texts), truth);
    candidateGolden = correctness(await topCodes(candidateModel, goldenTexts), goldenTruth);
  } finally {
    await candidateModel.release();
  }
  let agreeing = 0;
  candidateCorrect.forEach((value, i) => (agreeing += value === trained[i] ? 1 : 0));
  const parityAgreement = texts.length === 0 ? 1 : agreeing / texts.length;
  const reasons: string[] = [];
  if (trained.length !== texts.length) reasons.push('the winner was tested on other rows than the gate sees');
  if (parityAgreement < MIN_PARITY_AGREEMENT) {
    reasons.push(
      `ONNX parity: the uploaded package agrees with training on ${(parityAgreement * 100).toFixed(2)} % of test rows`,
    );
  }
  const champion = (await registry.aliases()).champion;
  if (champion === undefined) {
    return {
      passed: reasons.length === 0,
      champion: null,
      reasons: [...reasons, 'no champion yet: the winner becomes the first champion'],
      checks: [],
      parityAgreement,
    };
  }
  const championModel = await loadModelFrom(registry.packageFiles(champion), nomenclature);
  let championCorrect: Uint8Array;
  let championGolden: Uint8Array;
  try {
    championCorrect = correctness(await topCodes(championModel, texts), truth);
    championGolden = correctness(await topCodes(championModel, goldenTexts), goldenTruth);
  } finally {
    await championModel.release();
  }
  const checks = gate(
    {
      candidate: candidateCorrect,
      champion: championCorrect,
      chapters: truth.map((code) => code.slice(0, 2)),
      ...(goldenData && goldenTexts.length > 0
        ? { golden: { candidate: candidateGolden, champion: championGolden } }
        : {}),
    },
    policy,
  );
  for (const check of checks.filter((c) => !c.passed)) {
    reasons.push(
      `${check.name}: accuracy difference ${check.difference.toFixed(4)}, ${policy.confidence * 100} % interval ` +
        `[${check.lower.toFixed(4)}, ${check.upper.toFixed(4)}] falls below −${check.tolerance}`,
    );
  }
  return { passed: reasons.length === 0, champion: champion.modelVersion, reasons, checks, parityAgreement };
}

export interface RegisterTask {
  readonly pipelineId: string;
  readonly winner: CandidateSummary;
  readonly verdict: GateVerdict;
}

export interface RegisterOutcome {
  readonly modelVersion: string;
  readonly role: 'challenger' | 'champion';
  readonly experimentId: string | null;
}

/** Registers the winner; it becomes challenger in a shadow experiment, or the first champion when there is none. */
export async function registerWinner(task: RegisterTask): Promise<RegisterOutcome> {
  const registry = getModelRegistry();
  const modelVersion = task.winner.modelVersion;
  const evidence = { pipelineId: task.pipelineId, gate: task.verdict, metrics: task.winner.metrics };
  let record = await registry.get(modelVersion);
  if (record === undefined) {
    record = await registry.register(modelVersion, {
      actor: PIPELINE_ACTOR,
      reason: `retraining pipeline ${task.pipelineId}: best candidate, gate passed`,
      evidence,
    });
  } else if (record.packageHash !== task.winner.packageHash) {
    throw new RegistryConflictError(`'${modelVersion}' is registered with another package`);
  }
  if (task.verdict.champion === null) {
    if (record.status !== 'champion') {
      await registry.promote(modelVersion, {
        actor: PIPELINE_ACTOR,
        reason: `retraining pipeline ${task.pipelineId}: no champion yet, the first model serves`,
        evidence,
        expectedChampion: null,
      });
    }
    return { modelVersion, role: 'champion', experimentId: null };
  }
  const runner = getExperimentRunner();
  const experimentId = experimentIdFor(modelVersion);
  if ((await runner.get(experimentId)) === undefined) {
    await runner.start({
      challengerVersion: modelVersion,
      mode: 'shadow',
      actor: PIPELINE_ACTOR,
      reason: `retraining pipeline ${task.pipelineId}: gate passed against ${task.verdict.champion}`,
    });
  }
  return { modelVersion, role: 'challenger', experimentId };
}

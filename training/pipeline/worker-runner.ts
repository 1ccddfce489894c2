/**
 * The retraining pipeline's training activity with the training itself in a worker thread (candidate-worker.ts),
 * so that the instance running it keeps answering HTTP requests. Idempotent: a candidate whose result is stored
 * returns it; an interrupted attempt resumes from the checkpoint it last uploaded to Blob (each checkpoint blob carries its epoch in its metadata, so a resumed attempt knows where it
 * restarts); progress is written to the candidate's progress item after each stage and epoch. All Blob and Cosmos
 * I/O stays on the caller's thread; the worker only computes.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { uploadModelPackage } from '../../shared/model-package';
import {
  candidateProgressId,
  getPipelineStore,
  type CandidateProgress,
} from '../../shared/pipelines/records';
import { runInWorker } from '../../shared/pipelines/worker-thread';
import { getPlatformClients } from '../../shared/platform/clients';
import { BLOB_CONTAINERS } from '../../shared/platform/resources';
import type {
  CandidateWorkerInput,
  CandidateWorkerProgress,
  CandidateWorkerResult,
} from './candidate-worker';
import { codeVersion } from './code-version';
import { CHECKPOINT_PREFIX, modelVersionFor, type CandidateOutcome, type CandidateTask } from './service';

const WORKER_MODULE = join(__dirname, 'candidate-worker');
/** What the worker writes beside `checkpoint` (see candidate-worker.ts), the refit phase's included. */
const CHECKPOINT_FILES = ['checkpoint', 'checkpoint.best', 'checkpoint.refit'] as const;
/** Blob metadata key holding the epoch a checkpoint was written after. */
const EPOCH_METADATA = 'epoch';

function models(): ContainerClient {
  return getPlatformClients().dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
}

export interface WorkerCandidateOptions {
  /** Where the activity reports what it does (a resume, and from which epoch). Default: nothing. */
  readonly log?: (message: string) => void;
}

/** Trains (or resumes, or finds) one candidate in a worker thread and uploads its package. */
export async function runCandidateInWorker(
  task: CandidateTask,
  options: WorkerCandidateOptions = {},
): Promise<CandidateOutcome> {
  const started = Date.now();
  const blobBase = `${CHECKPOINT_PREFIX}/${task.pipelineId}/${task.candidateId}`;
  const resultBlob = models().getBlockBlobClient(`${blobBase}/result.json`);
  if (await resultBlob.exists()) {
    return JSON.parse((await resultBlob.downloadToBuffer()).toString('utf8')) as CandidateOutcome;
  }
  const store = getPipelineStore();
  const modelVersion = modelVersionFor(task);
  const folder = join(tmpdir(), 'hs-pipeline', task.pipelineId, task.candidateId);
  // Local files of an earlier attempt on this machine may be newer or older than Blob's: Blob is the truth.
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  let resumed = false;
  let resumedFromEpoch: number | undefined;
  for (const name of CHECKPOINT_FILES) {
    const blob = models().getBlockBlobClient(`${blobBase}/${name}`);
    if (!(await blob.exists())) continue;
    await writeFile(join(folder, name), await blob.downloadToBuffer());
    if (name === 'checkpoint') {
      resumed = true;
      const epoch = Number((await blob.getProperties()).metadata?.[EPOCH_METADATA]);
      if (Number.isInteger(epoch) && epoch > 0) resumedFromEpoch = epoch;
    }
  }
  if (resumed) {
    options.log?.(
      `${modelVersion}: resuming from its Blob checkpoint` +
        (resumedFromEpoch === undefined ? '' : ` of epoch ${resumedFromEpoch}`),
    );
  }
  let progress: CandidateProgress = {
    id: candidateProgressId(task.pipelineId, task.candidateId),
    kind: 'candidate-progress',
    pipelineId: task.pipelineId,
    candidateId: task.candidateId,
    arch: task.spec.arch,
    trial: task.trial,
    stage: 'loading',
    epoch: resumedFromEpoch ?? 0,
    epochs: task.spec.epochs,
    loss: null,
    validationAccuracy: null,
    resumed,
    ...(resumedFromEpoch === undefined ? {} : { resumedFromEpoch }),
    updatedAt: new Date().toISOString(),
  };
  // Writes and uploads run in order behind training, so the newest progress and checkpoint always land last.
  let pending: Promise<void> = store.writeProgress(progress);
  const enqueue = (work: () => Promise<unknown>): void => {
    pending = pending.then(async () => {
      await work();
    });
  };
  const report = (patch: Partial<CandidateProgress>): void => {
    progress = { ...progress, ...patch, updatedAt: new Date().toISOString() };
    const snapshot = progress;
    enqueue(() => store.writeProgress(snapshot));
  };
  const onProgress = (message: CandidateWorkerProgress): void => {
    if (message.kind === 'stage') {
      report({ stage: message.stage });
      return;
    }
    const epoch = message.progress.epoch;
    for (const { name, bytes } of message.checkpoints) {
      enqueue(() =>
        models()
          .getBlockBlobClient(`${blobBase}/${name}`)
          .uploadData(bytes, { metadata: { [EPOCH_METADATA]: String(epoch) } }),
      );
    }
    // `epochs` from the trainer: the refit runs for the epochs early stopping chose, not the spec's maximum.
    report({
      epoch,
      epochs: message.progress.epochs,
      loss: message.progress.loss,
      // NaN while refitting (no validation part): stored as "not measured".
      validationAccuracy: Number.isNaN(message.progress.validationAccuracy)
        ? null
        : message.progress.validationAccuracy,
    });
  };
  try {
    const csv = new Uint8Array(
      await getPlatformClients()
        .dataBlobs.getContainerClient(BLOB_CONTAINERS.datasets)
        .getBlockBlobClient(`${task.dataset.version}/rows.csv`)
        .downloadToBuffer(),
    );
    const input: CandidateWorkerInput = {
      spec: task.spec,
      dataset: task.dataset,
      modelVersion,
      createdAt: task.createdAt,
      codeVersion: codeVersion(),
      csv,
      checkpointPath: join(folder, 'checkpoint'),
    };
    const result = await runInWorker<CandidateWorkerInput, CandidateWorkerProgress, CandidateWorkerResult>(
      WORKER_MODULE,
      input,
      { onProgress, transferList: [csv.buffer] },
    );
    await pending;
    await uploadModelPackage(models(), `${modelVersion}/`, result.files);
    const outcome: CandidateOutcome = {
      summary: {
        candidateId: task.candidateId,
        arch: task.spec.arch,
        trial: task.trial,
        modelVersion,
        hyperParameters: result.manifest.hyperParameters,
        seed: task.spec.seed,
        metrics: result.manifest.metrics,
        modelHash: result.modelHash,
        packageHash: result.packageHash,
      },
      validationAccuracy: result.validationAccuracy,
      testCorrect: Buffer.from(result.testCorrect).toString('base64'),
      resumed,
      seconds: (Date.now() - started) / 1000,
    };
    await resultBlob.uploadData(Buffer.from(JSON.stringify(outcome)));
    report({ stage: 'done' });
    await pending;
    await rm(folder, { recursive: true, force: true });
    return outcome;
  } catch (error: unknown) {
    // The queued writes may themselves have failed; the training error is the one to report.
    await pending.catch(() => undefined);
    throw error;
  }
}

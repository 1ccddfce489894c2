/**
 * Worker-thread entry of a training candidate (see worker-runner.ts): parses the dataset, runs `trainCandidate`
 * with its checkpoint in a local folder, and posts each stage, each epoch with the checkpoint files it just wrote,
 * and finally the package. Nothing here touches Blob or Cosmos: the caller's thread does all I/O.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Readable } from 'node:stream';
import { loadNomenclature } from '../../shared/hs/nomenclature';
import type { ModelManifest } from '../../shared/model-package';
import { serveWorkerTask } from '../../shared/pipelines/worker-thread';
import { readLabelledCsv } from '../data/labelled-csv';
import type { TrainingProgress } from '../trainer';
import { refitCheckpointPath, trainCandidate, type DatasetIdentity } from './candidate';
import type { CandidateSpec } from './spec';

export interface CandidateWorkerInput {
  readonly spec: CandidateSpec;
  readonly dataset: DatasetIdentity;
  readonly modelVersion: string;
  readonly createdAt: string;
  readonly codeVersion: string;
  /** The dataset's rows.csv. */
  readonly csv: Uint8Array;
  /** Trainer checkpoint file; `<path>.best` and the refit phase's `<path>.refit` beside it. Existing ones are
   * resumed. */
  readonly checkpointPath: string;
}

export type CandidateWorkerProgress =
  | { readonly kind: 'stage'; readonly stage: string }
  | {
      readonly kind: 'epoch';
      readonly progress: TrainingProgress;
      /** The checkpoint files as they are after this epoch (file name → bytes). */
      readonly checkpoints: readonly { readonly name: string; readonly bytes: Uint8Array }[];
    };

export interface CandidateWorkerResult {
  readonly manifest: ModelManifest;
  readonly files: Map<string, Uint8Array>;
  readonly packageHash: string;
  readonly modelHash: string;
  readonly validationAccuracy: number;
  readonly testCorrect: Uint8Array;
}

serveWorkerTask<CandidateWorkerInput, CandidateWorkerProgress, CandidateWorkerResult>(async (input, post) => {
  const nomenclature = loadNomenclature();
  post({ kind: 'stage', stage: 'reading' });
  const data = await readLabelledCsv(Readable.from([Buffer.from(input.csv)]), nomenclature);
  mkdirSync(dirname(input.checkpointPath), { recursive: true });
  const firstPhaseFiles = [input.checkpointPath, `${input.checkpointPath}.best`];
  const refitFile = refitCheckpointPath(input.checkpointPath);
  const result = await trainCandidate(
    data,
    input.spec,
    {
      dataset: input.dataset,
      modelVersion: input.modelVersion,
      checkpointPath: input.checkpointPath,
      createdAt: input.createdAt,
      codeVersion: input.codeVersion,
      nomenclature,
    },
    {
      onStage: (stage) => post({ kind: 'stage', stage }),
      // Read right away: the next epoch overwrites the files while the caller is still uploading these.
      onEpoch: (progress) => {
        // Once the refit phase has begun the first phase's files no longer change: only its own is posted.
        const checkpoints = (existsSync(refitFile) ? [refitFile] : firstPhaseFiles)
          .filter((file) => existsSync(file))
          // A copy owns its ArrayBuffer, so moving it cannot detach Node's shared pool of small buffers.
          .map((file) => ({ name: basename(file), bytes: new Uint8Array(readFileSync(file)) }));
        post(
          { kind: 'epoch', progress, checkpoints },
          checkpoints.map((c) => c.bytes.buffer),
        );
      },
    },
  );
  return {
    result: {
      manifest: result.manifest,
      files: result.files,
      packageHash: result.packageHash,
      modelHash: result.modelHash,
      validationAccuracy: result.evaluation.validation.accuracyAt1,
      testCorrect: result.testCorrect,
    },
  };
});

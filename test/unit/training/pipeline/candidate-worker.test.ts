/**
 * The training candidate's worker-thread entry, run from its TypeScript source (SWC in the worker, as under jest
 * there is no build): stages and epochs arrive in order, each epoch with the checkpoint files written after it,
 * and the package comes back whole. A second run on those checkpoints resumes instead of starting over.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelPackage, memoryPackageFiles } from '../../../../shared/model-package';
import { runInWorker } from '../../../../shared/pipelines/worker-thread';
import type {
  CandidateWorkerInput,
  CandidateWorkerProgress,
  CandidateWorkerResult,
} from '../../../../training/pipeline/candidate-worker';
import { resolveCandidateSpec } from '../../../../training/pipeline/spec';
import { generateRows, rowsToCsv } from './generated-rows';

const WORKER = join(__dirname, '../../../../training/pipeline/candidate-worker');

describe('candidate worker', () => {
  let folder: string;
  beforeAll(() => (folder = mkdtempSync(join(tmpdir(), 'candidate-worker-'))));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const input = (checkpointPath: string, epochs: number): CandidateWorkerInput => ({
    // Small hash tables keep each training to a second or two.
    spec: resolveCandidateSpec({ arch: 'bag', epochs, seed: 3, encoder: { buckets: 4096 } }),
    dataset: { version: 'ds-test', contentHash: 'b'.repeat(64) },
    modelVersion: 'worker-bag',
    createdAt: '2026-01-01T00:00:00.000Z',
    codeVersion: 'test',
    csv: new TextEncoder().encode(rowsToCsv(generateRows(1200, 7))),
    checkpointPath,
  });

  it('trains in a worker, posting stages, epochs with their checkpoints, and the package', async () => {
    const messages: CandidateWorkerProgress[] = [];
    const first = join(folder, 'first', 'checkpoint');
    const run = input(first, 2);
    const result = await runInWorker<CandidateWorkerInput, CandidateWorkerProgress, CandidateWorkerResult>(
      WORKER,
      run,
      { onProgress: (m) => messages.push(m) },
    );
    const stages = messages.flatMap((m) => (m.kind === 'stage' ? [m.stage] : []));
    expect(stages[0]).toBe('reading');
    expect(stages).toEqual(expect.arrayContaining(['training', 'packaging']));
    const epochs = messages.flatMap((m) => (m.kind === 'epoch' ? [m] : []));
    expect(epochs.map((m) => m.progress.epoch)).toEqual([1, 2]);
    expect(epochs[0]!.checkpoints.map((c) => c.name).sort()).toEqual(['checkpoint', 'checkpoint.best']);
    expect(epochs.every((m) => m.checkpoints.every((c) => c.bytes.byteLength > 1000))).toBe(true);

    const opened = await readModelPackage(memoryPackageFiles('(worker result)', result.files));
    expect(opened.manifest.modelVersion).toBe('worker-bag');
    expect(result.validationAccuracy).toBeGreaterThan(0.5);
    expect(result.testCorrect.length).toBeGreaterThan(100);

    // The checkpoint of epoch 1, as the caller would download it from Blob: a two-epoch run goes on from there.
    const resumedAt = join(folder, 'resumed');
    mkdirSync(resumedAt, { recursive: true });
    for (const file of epochs[0]!.checkpoints) writeFileSync(join(resumedAt, file.name), file.bytes);
    const resumedMessages: CandidateWorkerProgress[] = [];
    const again = input(join(resumedAt, 'checkpoint'), 2);
    await runInWorker(WORKER, again, { onProgress: (m: CandidateWorkerProgress) => resumedMessages.push(m) });
    expect(resumedMessages.flatMap((m) => (m.kind === 'epoch' ? [m.progress.epoch] : []))).toEqual([2]);
  }, 120_000);
});

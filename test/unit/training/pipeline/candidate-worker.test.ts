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

type EpochMessage = Extract<CandidateWorkerProgress, { kind: 'epoch' }>;

/** Epoch messages grouped by the stage announced before them (first training, then the refit). */
function epochsByStage(
  messages: readonly CandidateWorkerProgress[],
): Record<'training' | 'refitting', EpochMessage[]> {
  const grouped: Record<'training' | 'refitting', EpochMessage[]> = { training: [], refitting: [] };
  let stage = '';
  for (const m of messages) {
    if (m.kind === 'stage') stage = m.stage;
    else if (stage === 'training' || stage === 'refitting') grouped[stage].push(m);
    else throw new Error(`epoch posted during stage '${stage}'`);
  }
  return grouped;
}

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
    const epochs = epochsByStage(messages);
    expect(epochs.training.map((m) => m.progress.epoch)).toEqual([1, 2]);
    expect(epochs.training[0]!.checkpoints.map((c) => c.name).sort()).toEqual([
      'checkpoint',
      'checkpoint.best',
    ]);
    // The bag refits on training + validation (DEFAULT_REFIT); then only the refit's own file changes.
    expect(epochs.refitting.length).toBeGreaterThan(0);
    for (const m of epochs.refitting) expect(m.checkpoints.map((c) => c.name)).toEqual(['checkpoint.refit']);
    const all = [...epochs.training, ...epochs.refitting];
    expect(all.every((m) => m.checkpoints.every((c) => c.bytes.byteLength > 1000))).toBe(true);

    const opened = await readModelPackage(memoryPackageFiles('(worker result)', result.files));
    expect(opened.manifest.modelVersion).toBe('worker-bag');
    expect(result.validationAccuracy).toBeGreaterThan(0.5);
    expect(result.testCorrect.length).toBeGreaterThan(100);

    // The checkpoint of epoch 1, as the caller would download it from Blob: a two-epoch run goes on from there.
    const resumedAt = join(folder, 'resumed');
    mkdirSync(resumedAt, { recursive: true });
    for (const file of epochs.training[0]!.checkpoints) writeFileSync(join(resumedAt, file.name), file.bytes);
    const resumedMessages: CandidateWorkerProgress[] = [];
    const again = input(join(resumedAt, 'checkpoint'), 2);
    await runInWorker(WORKER, again, { onProgress: (m: CandidateWorkerProgress) => resumedMessages.push(m) });
    const resumed = epochsByStage(resumedMessages);
    expect(resumed.training.map((m) => m.progress.epoch)).toEqual([2]);
    expect(resumed.refitting.map((m) => m.progress.epoch)).toEqual(
      epochs.refitting.map((m) => m.progress.epoch),
    );
  }, 120_000);
});

// Worker module for worker-thread.test.ts: busy-loops for `spinMs` per step (a stand-in for training), posts
// each step, and fails on request.
import { serveWorkerTask } from '../../../../shared/pipelines/worker-thread';

interface Input {
  readonly steps: number;
  readonly spinMs: number;
  readonly fail?: string;
  readonly payload: Uint8Array;
}

serveWorkerTask<Input, { step: number }, { sum: number; steps: number }>(async (input, post) => {
  for (let step = 1; step <= input.steps; step++) {
    const until = Date.now() + input.spinMs;
    while (Date.now() < until) {
      // Holds this thread, as a training epoch does.
    }
    post({ step });
  }
  if (input.fail !== undefined) throw new Error(input.fail);
  return Promise.resolve({ result: { sum: input.payload.reduce((a, b) => a + b, 0), steps: input.steps } });
});

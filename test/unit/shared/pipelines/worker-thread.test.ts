import { join } from 'node:path';
import { runInWorker, WorkerTaskError } from '../../../../shared/pipelines/worker-thread';

const MODULE = join(__dirname, 'echo-worker');

interface Input {
  steps: number;
  spinMs: number;
  fail?: string;
  payload: Uint8Array;
}

describe('runInWorker', () => {
  it('runs a TypeScript module in a worker, relays progress in order, and returns its result', async () => {
    const seen: number[] = [];
    const payload = Uint8Array.from([1, 2, 3, 4]);
    const result = await runInWorker<Input, { step: number }, { sum: number; steps: number }>(
      MODULE,
      { steps: 5, spinMs: 1, payload },
      { onProgress: (p) => seen.push(p.step), transferList: [payload.buffer] },
    );
    expect(result).toEqual({ sum: 10, steps: 5 });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    // Moved, not copied.
    expect(payload.byteLength).toBe(0);
  });

  it("keeps the caller's event loop free while the worker computes", async () => {
    const gaps: number[] = [];
    let last = Date.now();
    const ticker = setInterval(() => {
      const now = Date.now();
      gaps.push(now - last);
      last = now;
    }, 10);
    try {
      // Six steps of 300 ms of busy work: run on this thread, the ticker would stall for 300 ms at a time.
      await runInWorker(MODULE, { steps: 6, spinMs: 300, payload: new Uint8Array(1) });
    } finally {
      clearInterval(ticker);
    }
    expect(gaps.length).toBeGreaterThan(20);
    // The first tick includes the worker's start-up (SWC compiling the module): judge the rest.
    expect(Math.max(...gaps.slice(1))).toBeLessThan(200);
  });

  it("rejects with the worker's error and its stack", async () => {
    const failing = runInWorker(MODULE, {
      steps: 1,
      spinMs: 0,
      fail: 'diverged',
      payload: new Uint8Array(1),
    });
    await expect(failing).rejects.toThrow(WorkerTaskError);
    await expect(failing).rejects.toThrow('diverged');
  });

  it('rejects when the module does not exist', async () => {
    await expect(runInWorker(join(__dirname, 'no-such-worker'), {})).rejects.toThrow(/does not exist/);
  });
});

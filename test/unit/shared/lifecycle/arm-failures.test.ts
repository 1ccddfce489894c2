import {
  answerOrFallBack,
  armFailureRecord,
  observeArm,
  type ArmFailure,
  type ArmFailureSink,
} from '../../../../shared/lifecycle/arm-failures';

function memorySink(): ArmFailureSink & { failures: ArmFailure[] } {
  const failures: ArmFailure[] = [];
  return { failures, record: (failure) => void failures.push(failure), idle: async () => undefined };
}

const provider = (work: () => Promise<string>) => ({
  withModel: async <T>(run: (model: string) => Promise<T>): Promise<T> => run(await work()),
});

const describeArm = () => ({
  experimentId: 'exp-x',
  arm: 'challenger' as const,
  predictionIds: ['p1', 'p2'],
});

describe('arm failures', () => {
  it('reports a failed scoring for its arm and passes the error on; a success reports nothing', async () => {
    const sink = memorySink();
    const started = performance.now();
    const boom = new Error('session lost');
    await expect(
      observeArm(
        sink,
        describeArm,
        started,
        provider(async () => Promise.reject(boom)),
        async (m) => m,
      ),
    ).rejects.toBe(boom);
    expect(sink.failures).toHaveLength(1);
    expect(sink.failures[0]).toMatchObject({ experimentId: 'exp-x', arm: 'challenger', error: boom });
    expect(sink.failures[0]!.latencyMs).toBeGreaterThanOrEqual(0);

    let described = 0;
    const answer = await observeArm(
      sink,
      () => (described++, describeArm()),
      started,
      provider(async () => 'model'),
      async (model) => `${model}!`,
    );
    expect(answer).toBe('model!');
    expect(described).toBe(0);
    expect(sink.failures).toHaveLength(1);
  });

  it('outside an experiment (no sink) a failure is only passed on', async () => {
    await expect(
      observeArm(
        undefined,
        describeArm,
        0,
        provider(async () => 'm'),
        async () => Promise.reject(new Error('x')),
      ),
    ).rejects.toThrow('x');
  });

  it('falls back to the champion when the challenger fails, and says so', async () => {
    const seen: unknown[] = [];
    const fallback = await answerOrFallBack(
      async () => Promise.reject(new Error('challenger down')),
      async () => 'champion',
      (error) => seen.push(error),
    );
    expect(fallback).toBe('champion');
    expect(seen).toHaveLength(1);
    expect(
      await answerOrFallBack(
        async () => 'challenger',
        async () => 'champion',
        (e) => seen.push(e),
      ),
    ).toBe('challenger');
    expect(seen).toHaveLength(1);
    // When the fallback fails too, the caller sees that failure.
    await expect(
      answerOrFallBack(
        async () => Promise.reject(new Error('challenger down')),
        async () => Promise.reject(new Error('champion down')),
        () => undefined,
      ),
    ).rejects.toThrow('champion down');
  });

  it('stores one document per failed scoring, keyed so that it cannot collide', () => {
    const at = new Date('2026-12-01T00:00:00Z');
    const record = armFailureRecord({ ...describeArm(), latencyMs: 12.5, error: new Error('oom') }, at);
    expect(record).toEqual({
      id: 'exp-x:failure:challenger:p1',
      kind: 'arm-failure',
      experimentId: 'exp-x',
      arm: 'challenger',
      predictionIds: ['p1', 'p2'],
      latencyMs: 12.5,
      message: 'oom',
      at: '2026-12-01T00:00:00.000Z',
    });
    expect(() =>
      armFailureRecord({ ...describeArm(), predictionIds: [], latencyMs: 1, error: 'x' }, at),
    ).toThrow(RangeError);
  });
});

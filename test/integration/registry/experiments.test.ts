import type { PredictionRecord } from '../../../shared/audit/record';
import { FeedbackService, shadowPredictionId } from '../../../shared/feedback';
import { ExperimentRunner, memoryLifecycleEvents } from '../../../shared/lifecycle';
import { uploadModelPackage } from '../../../shared/model-package/package';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { ModelRegistry, type Actor } from '../../../shared/registry';
import { buildTinyPackage } from '../../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../../support/stack';

const SYSTEM: Actor = { kind: 'system', id: 'test' };
const TRUTH = '731815';
const WRONG = '850440';
const POLICY = { minSamplesPerArm: 20, minDiscordantPairs: 10, minRequestsForGuardrails: 10 };

function prediction(
  id: string,
  modelVersion: string,
  arm: string,
  code: string,
  latencyMs = 4,
): PredictionRecord {
  return {
    id,
    recordVersion: 1,
    createdAt: new Date().toISOString(),
    caller: { callerId: null, clientAddress: null, invocationId: 'inv' },
    itemId: null,
    inputHash: 'h',
    normalizedText: 'x',
    context: null,
    modelVersion,
    packageHash: 'p',
    arm,
    options: { topK: 1, explain: false },
    codes: [{ code, confidence: 0.9 }] as unknown as PredictionRecord['codes'],
    heading: { code: code.slice(0, 4) } as unknown as PredictionRecord['heading'],
    chapter: { code: code.slice(0, 2) } as unknown as PredictionRecord['chapter'],
    decision: { outcome: 'auto', reason: 'confident', threshold: 0.9, headingThreshold: 0.9 },
    explanation: null,
    latency: { totalMs: latencyMs, batchSize: 1 },
  };
}

describe('experiment runner against the Cosmos emulator', () => {
  let stack: TestStack;
  let registry: ModelRegistry;
  let feedback: FeedbackService;
  let runner: ExperimentRunner;
  const events = memoryLifecycleEvents();
  let serial = 0;

  const register = async (version: string): Promise<void> => {
    const models = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    await uploadModelPackage(models, `${version}/`, buildTinyPackage({ modelVersion: version }).files);
    await registry.register(version, { actor: SYSTEM, reason: 'trained' });
  };

  /** Items scored by both (shadow) or by one arm (split), each with its filed code sent as feedback. */
  const serve = async (
    items: {
      version: string;
      arm: string;
      correct: boolean;
      shadow?: { version: string; correct: boolean };
      latencyMs?: number;
    }[],
  ): Promise<void> => {
    const predictions = stack.clients.database.container(COSMOS_CONTAINERS.predictions.id);
    const one = async (item: (typeof items)[number], id: string): Promise<void> => {
      await predictions.items.create(
        prediction(id, item.version, item.arm, item.correct ? TRUTH : WRONG, item.latencyMs),
      );
      if (item.shadow !== undefined) {
        await predictions.items.create(
          prediction(
            shadowPredictionId(id),
            item.shadow.version,
            'challenger',
            item.shadow.correct ? TRUTH : WRONG,
          ),
        );
      }
      await feedback.submit(
        { predictionId: id, hsCode: TRUTH, source: null, filedAt: null },
        { channel: 'http', messageId: null },
      );
    };
    await Promise.all(items.map((item) => one(item, `item-${serial++}`)));
  };

  beforeAll(async () => {
    stack = await startTestStack({ cosmosDatabase: 'experimentstest' });
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    const database = stack.clients.database;
    registry = new ModelRegistry({
      models: database.container(COSMOS_CONTAINERS.models.id),
      log: database.container(COSMOS_CONTAINERS.registryLog.id),
      packages: stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
    });
    feedback = new FeedbackService({
      feedback: database.container(COSMOS_CONTAINERS.feedback.id),
      predictions: database.container(COSMOS_CONTAINERS.predictions.id),
    });
    runner = new ExperimentRunner({
      experiments: database.container(COSMOS_CONTAINERS.experiments.id),
      predictions: database.container(COSMOS_CONTAINERS.predictions.id),
      registry,
      feedback,
      events,
    });
    await register('base');
    await registry.promote('base', { actor: SYSTEM, reason: 'first' });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('rejects a worse shadow challenger and frees the challenger alias', async () => {
    await register('worse');
    const experiment = await runner.start({
      challengerVersion: 'worse',
      mode: 'shadow',
      policy: POLICY,
      actor: SYSTEM,
      reason: 'try',
    });
    await serve(
      Array.from({ length: 60 }, (_, i) => ({
        version: 'base',
        arm: 'champion',
        correct: true,
        shadow: { version: 'worse', correct: i % 2 === 0 },
      })),
    );
    const outcome = await runner.decide(experiment.id);
    expect(outcome?.applied).toBe('reject');
    expect((await registry.get('worse'))?.status).toBe('rejected');
    expect((await registry.aliases()).champion?.modelVersion).toBe('base');
    expect((await registry.alias('challenger'))?.modelVersion).toBeNull();
    expect((await runner.get(experiment.id))?.record.status).toBe('rejected');
    expect(await runner.decide(experiment.id)).toBeUndefined();
    expect(events.events.at(-1)).toMatchObject({ type: 'model.rejected', experimentId: experiment.id });
  });

  it('keeps collecting on an equal challenger however often it is checked', async () => {
    await register('equal');
    const experiment = await runner.start({
      challengerVersion: 'equal',
      mode: 'shadow',
      policy: POLICY,
      actor: SYSTEM,
      reason: 'try',
    });
    for (let batch = 0; batch < 6; batch++) {
      // Discordant pairs split evenly: no evidence either way.
      await serve(
        Array.from({ length: 10 }, (_, i) => ({
          version: 'base',
          arm: 'champion',
          correct: i % 2 === 0,
          shadow: { version: 'equal', correct: i % 2 === 1 },
        })),
      );
      expect((await runner.decide(experiment.id))?.applied).toBe('continue');
    }
    const decisions = (await registry.history('equal')).filter((e) => e.action === 'decision');
    expect(decisions).toHaveLength(6);
    expect(decisions.at(-1)?.evidence).toMatchObject({
      check: 6,
      counts: { pairs: { hs6: { championOnly: 30, challengerOnly: 30 } } },
    });
    await registry.rejectChallenger('equal', { actor: SYSTEM, reason: 'end of test' });
  });

  it('blocks a better split challenger that breaches the latency guardrail, and lets one decider act', async () => {
    await register('slow');
    const experiment = await runner.start({
      challengerVersion: 'slow',
      mode: 'split',
      challengerShare: 0.5,
      policy: POLICY,
      actor: SYSTEM,
      reason: 'try',
    });
    await serve(
      Array.from({ length: 120 }, (_, i) =>
        i % 2 === 0
          ? { version: 'base', arm: 'champion', correct: i % 4 === 0 }
          : { version: 'slow', arm: 'challenger', correct: true, latencyMs: 900 },
      ),
    );
    const page = await runner.evaluate((await runner.get(experiment.id))!.record);
    expect(
      page.statistics.challengers[0]?.guardrails.find((g) => g.metric === 'p95LatencyMs')?.status,
    ).not.toBe('ok');
    const racing = await Promise.allSettled([runner.decide(experiment.id), runner.decide(experiment.id)]);
    // The loser either fails its etag check or, if it read after the winner finished, finds nothing running.
    const acted = racing.filter((r) => r.status === 'fulfilled' && r.value !== undefined);
    expect(acted).toHaveLength(1);
    const verdicts = (await registry.history('slow')).filter(
      (e) => e.action === 'rejected' || e.action === 'decision',
    );
    expect(verdicts).toHaveLength(1);
    expect((await registry.aliases()).champion?.modelVersion).toBe('base');
    expect((await registry.get('slow'))?.status).not.toBe('champion');
  });

  it('closes an experiment whose champion was replaced underneath it, and withdraws its challenger', async () => {
    await register('overtaken');
    await register('manual');
    const experiment = await runner.start({
      challengerVersion: 'overtaken',
      mode: 'shadow',
      policy: POLICY,
      actor: SYSTEM,
      reason: 'try',
    });
    await serve(
      Array.from({ length: 40 }, () => ({
        version: 'base',
        arm: 'champion',
        correct: false,
        shadow: { version: 'overtaken', correct: true },
      })),
    );
    // Better by every count so far, but the champion it was measured against stops serving.
    expect((await runner.evaluate(experiment)).action).toBe('promote');
    await registry.promote('manual', {
      actor: { kind: 'person', id: 'owner@example.com' },
      reason: 'hotfix for a tariff change',
    });

    const run = await runner.decideAll();
    const outcome = run.outcomes.find((o) => o.experiment.id === experiment.id);
    expect(outcome?.applied).toBe('stale');
    expect(outcome?.experiment).toMatchObject({
      status: 'stale',
      closedReason: 'champion changed from base to manual',
    });
    expect((await runner.get(experiment.id))?.record).toMatchObject({
      status: 'stale',
      closedReason: 'champion changed from base to manual',
    });
    expect(await runner.decide(experiment.id)).toBeUndefined();
    expect((await registry.aliases()).champion?.modelVersion).toBe('manual');
    expect((await registry.alias('challenger'))?.modelVersion).toBeNull();
    expect((await registry.get('overtaken'))?.status).toBe('candidate');
    const closing = (await registry.history('overtaken')).at(-1);
    expect(closing).toMatchObject({
      action: 'challenger-cleared',
      actor: { kind: 'system', id: 'experiments-decision-timer' },
      fromStatus: 'challenger',
      toStatus: 'candidate',
      evidence: {
        experimentId: experiment.id,
        stale: { experimentChampion: 'base', servingChampion: 'manual', wouldDecide: 'promote' },
      },
    });
    expect(closing?.reason).toContain('champion changed from base to manual');
    expect(events.events.at(-1)).toMatchObject({
      type: 'experiment.stale',
      experimentId: experiment.id,
      champion: 'manual',
      challenger: 'overtaken',
      details: { reason: 'champion changed from base to manual' },
    });
    // The version gets one experiment: a second start is refused before the challenger alias moves.
    await expect(
      runner.start({ challengerVersion: 'overtaken', mode: 'shadow', actor: SYSTEM, reason: 'again' }),
    ).rejects.toThrow(/already exists/);
    expect((await registry.alias('challenger'))?.modelVersion).toBeNull();
  });

  it('closes as stale when the challenger itself was promoted by hand, leaving its status alone', async () => {
    await register('handpicked');
    const experiment = await runner.start({
      challengerVersion: 'handpicked',
      mode: 'split',
      challengerShare: 0.5,
      policy: POLICY,
      actor: SYSTEM,
      reason: 'try',
    });
    await registry.promote('handpicked', {
      actor: { kind: 'person', id: 'owner@example.com' },
      reason: 'urgent',
    });
    const outcome = await runner.decide(experiment.id);
    expect(outcome).toMatchObject({
      applied: 'stale',
      experiment: { status: 'stale', closedReason: 'champion changed from manual to handpicked' },
    });
    expect((await registry.get('handpicked'))?.status).toBe('champion');
    expect((await registry.history('handpicked')).at(-1)).toMatchObject({
      action: 'decision',
      evidence: { stale: { servingChampion: 'handpicked' } },
    });
    // Later tests and runs start from a clean registry state.
    await registry.rollback('handpicked', { actor: SYSTEM, reason: 'end of test' });
  });
});

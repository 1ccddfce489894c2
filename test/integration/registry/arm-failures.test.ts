/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 *
 * The error-rate guardrail fed by real failures: a challenger whose session fails on a share of its scorings,
 * served through the classification service against the Cosmos emulator. In split mode the callers still get
 * answers (the champion's); in shadow mode they never notice. Either way the failures are counted for the
 * challenger, the guardrail trips and the decision timer rejects it, with the guardrail in the audit log.
 */
import { AuditWriter, cosmosAuditSink, type SpillStore } from '../../../shared/audit/writer';
import { assignmentKey, assignToChallenger } from '../../../shared/experiments/assignment';
import type { SplitExperimentState, ShadowExperimentState } from '../../../shared/experiments/state';
import { FeedbackService } from '../../../shared/feedback';
import { loadNomenclature } from '../../../shared/hs/nomenclature';
import type { ServingModel } from '../../../shared/inference/model';
import { ModelProvider } from '../../../shared/inference/provider';
import { ClassificationService, type ClassifyResponse } from '../../../shared/inference/service';
import { ExperimentTracker, type ActiveExperiment } from '../../../shared/inference/serving';
import {
  cosmosArmFailureSink,
  ExperimentRunner,
  memoryLifecycleEvents,
  type ArmFailureSink,
  type ExperimentRecord,
} from '../../../shared/lifecycle';
import { uploadModelPackage } from '../../../shared/model-package/package';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { ModelRegistry, registryModelSource, type Actor } from '../../../shared/registry';
import { buildTinyPackage } from '../../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../../support/stack';

const SYSTEM: Actor = { kind: 'system', id: 'test' };
const caller = { callerId: 'test', clientAddress: null, invocationId: 'inv' };
const LABELLED: readonly (readonly [string, string])[] = [
  ['cotton tshirt tee', '610910'],
  ['denim jeans trousers', '620342'],
  ['portable laptop notebook', '847130'],
  ['roasted ground coffee espresso', '090121'],
  ['android smartphone mobile phone', '851713'],
];
// Neither latency (two shared test cores) nor accuracy may decide here: only the error rate.
const POLICY = {
  minSamplesPerArm: 20,
  minDiscordantPairs: 10,
  minRequestsForGuardrails: 20,
  maxP95LatencyIncreaseMs: 60_000,
  maxReviewRateIncrease: 1,
};

const noSpill: SpillStore = {
  put: async () => {
    throw new Error('the emulator write is not expected to fail');
  },
  list: async () => [],
  get: async () => [],
  remove: async () => undefined,
};

/** A challenger session that fails every `period`-th scoring, from the first. */
class FlakyProvider extends ModelProvider {
  calls = 0;
  failures = 0;
  period = 4;
  override async withModel<T>(work: (model: ServingModel) => Promise<T>): Promise<T> {
    if (this.calls++ % this.period === 0) {
      this.failures++;
      throw new Error('onnxruntime: failed to allocate memory');
    }
    return super.withModel(work);
  }
}

/** Serving pinned to one experiment, with the flaky challenger as its session. */
class PinnedTracker extends ExperimentTracker {
  pinned: ActiveExperiment | undefined;
  override get active(): ActiveExperiment | undefined {
    return this.pinned;
  }
}

describe('errors per arm feed the error-rate guardrail', () => {
  let stack: TestStack;
  let registry: ModelRegistry;
  let feedback: FeedbackService;
  let runner: ExperimentRunner;
  let tracker: PinnedTracker;
  let failures: ArmFailureSink;
  let service: ClassificationService;
  let audit: AuditWriter;
  const logs: string[] = [];
  const nomenclature = loadNomenclature();

  const register = async (version: string): Promise<void> => {
    await uploadModelPackage(
      stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
      `${version}/`,
      buildTinyPackage({ modelVersion: version, seed: 1 }).files,
    );
    await registry.register(version, { actor: SYSTEM, reason: 'trained' });
  };

  const pin = async (record: ExperimentRecord, period: number): Promise<FlakyProvider> => {
    const challenger = new FlakyProvider({
      source: registryModelSource(registry),
      nomenclature,
      keepVersions: 0,
    });
    // Served by version, whatever the aliases say, like the tracker's own challenger session.
    await challenger.swapTo(registry.packageFiles(await registry.require(record.challengerVersion)));
    challenger.period = period;
    tracker.pinned = { experiment: record, challenger };
    return challenger;
  };

  /** One single-item request per description; feedback for every served item. */
  const serve = async (count: number): Promise<ClassifyResponse[]> => {
    const responses: ClassifyResponse[] = [];
    for (let i = 0; i < count; i++) {
      const [description, code] = LABELLED[i % LABELLED.length]!;
      const response = await service.classify(
        {
          items: [{ id: undefined, description, context: { shipmentId: `s-${i}` } }],
          topK: 2,
          explain: false,
        },
        caller,
      );
      responses.push(response);
      await service.options.audit.flush();
      await feedback.submit(
        { predictionId: response.items[0]!.predictionId, hsCode: code, source: null, filedAt: null },
        { channel: 'http', messageId: null },
      );
    }
    await service.shadowIdle();
    await audit.flush();
    await failures.idle();
    return responses;
  };

  beforeAll(async () => {
    stack = await startTestStack({ cosmosDatabase: 'armfailurestest' });
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    const database = stack.clients.database;
    const experiments = database.container(COSMOS_CONTAINERS.experiments.id);
    const predictions = database.container(COSMOS_CONTAINERS.predictions.id);
    registry = new ModelRegistry({
      models: database.container(COSMOS_CONTAINERS.models.id),
      log: database.container(COSMOS_CONTAINERS.registryLog.id),
      packages: stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
    });
    feedback = new FeedbackService({
      feedback: database.container(COSMOS_CONTAINERS.feedback.id),
      predictions,
    });
    runner = new ExperimentRunner({
      experiments,
      predictions,
      registry,
      feedback,
      events: memoryLifecycleEvents(),
    });
    await register('steady');
    await registry.promote('steady', { actor: SYSTEM, reason: 'first' });
    tracker = new PinnedTracker({
      lookup: { running: async () => [] },
      challengerSource: () => registryModelSource(registry),
      nomenclature,
    });
    failures = cosmosArmFailureSink(experiments, (level, message) => logs.push(`${level} ${message}`));
    const sink = cosmosAuditSink(predictions);
    audit = new AuditWriter({ sink, spill: noSpill });
    service = new ClassificationService({
      provider: new ModelProvider({ source: registryModelSource(registry), nomenclature }),
      audit,
      auditSink: sink,
      experiments: tracker,
      armFailures: failures,
      log: (level, message) => logs.push(`${level} ${message}`),
    });
  }, 60_000);

  afterAll(async () => {
    await tracker?.pinned?.challenger.close();
    await service?.close();
    await stack?.stop();
  });

  it('split: callers get the champion when the challenger fails; its errors reject it', async () => {
    await register('flaky-split');
    const record = await runner.start({
      challengerVersion: 'flaky-split',
      mode: 'split',
      challengerShare: 0.5,
      policy: POLICY,
      actor: SYSTEM,
      reason: 'try',
    });
    const flaky = await pin(record, 4);
    const responses = await serve(120);

    const assigned = responses.map((_, i) =>
      assignToChallenger(record.id, assignmentKey(`s-${i}`, ''), 0.5) ? 'challenger' : 'champion',
    );
    const toChallenger = assigned.filter((arm) => arm === 'challenger').length;
    expect(flaky.calls).toBe(toChallenger);
    expect(flaky.failures).toBeGreaterThanOrEqual(10);
    // Every request was answered; the failed challenger's items by the champion.
    const answeredByChampion = responses.filter((r) => r.items[0]!.modelVersion === 'steady').length;
    expect(answeredByChampion).toBe(responses.length - toChallenger + flaky.failures);
    expect(logs.filter((line) => /champion answered instead/.test(line))).toHaveLength(flaky.failures);

    const state = (await runner.state(record)) as SplitExperimentState;
    const [championArm, challengerArm] = state.arms;
    expect(challengerArm?.operational).toMatchObject({ requests: toChallenger, errors: flaky.failures });
    // The fallback answers belong to neither arm's results: the champion keeps exactly its own share.
    expect(championArm?.operational).toMatchObject({ requests: responses.length - toChallenger, errors: 0 });
    expect(championArm?.outcomes).toBe(responses.length - toChallenger);
    expect(challengerArm?.outcomes).toBe(toChallenger - flaky.failures);

    const outcome = await runner.decide(record.id);
    expect(outcome?.applied).toBe('reject');
    expect(outcome?.decision.reasons.join('; ')).toMatch(/severe guardrail breach: errorRate/);
    expect((await registry.get('flaky-split'))?.status).toBe('rejected');
    expect((await registry.aliases()).champion?.modelVersion).toBe('steady');
    const rejected = (await registry.history('flaky-split')).find((e) => e.action === 'rejected');
    const evidence = rejected?.evidence as {
      statistics: { challengers: { guardrails: { metric: string; status: string; challenger: number }[] }[] };
    };
    const errorRate = evidence.statistics.challengers[0]?.guardrails.find((g) => g.metric === 'errorRate');
    expect(errorRate).toMatchObject({ status: 'severe', challenger: flaky.failures / toChallenger });
  }, 60_000);

  it('shadow: a failing off-path challenger is counted and rejected, and no caller notices', async () => {
    await register('flaky-shadow');
    const record = await runner.start({
      challengerVersion: 'flaky-shadow',
      mode: 'shadow',
      policy: POLICY,
      actor: SYSTEM,
      reason: 'try',
    });
    const flaky = await pin(record, 5);
    const responses = await serve(60);
    expect(responses.every((r) => r.items[0]!.modelVersion === 'steady')).toBe(true);
    expect(flaky.calls).toBe(60);
    expect(flaky.failures).toBe(12);

    const state = (await runner.state(record)) as ShadowExperimentState;
    expect(state.challenger).toMatchObject({ requests: 60, errors: 12 });
    expect(state.champion).toMatchObject({ requests: 60, errors: 0 });
    expect(state.pairs.hs6.bothCorrect + state.pairs.hs6.bothWrong).toBe(48);

    const outcome = await runner.decide(record.id);
    expect(outcome?.applied).toBe('reject');
    const rejected = (await registry.history('flaky-shadow')).find((e) => e.action === 'rejected');
    expect(JSON.stringify(rejected?.evidence)).toMatch(/"metric":"errorRate"[^}]*"status":"severe"/);
  }, 60_000);
});

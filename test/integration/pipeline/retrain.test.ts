/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
/**
 * The retraining pipeline end to end: real emulators (Azurite, Cosmos, the Service Bus peer), the local function
 * host with the durable extension, and the compiled app. A generated CSV uploaded to `incoming/` is ingested, the
 * new dataset version starts retraining, the winner passes the gate against a (weak) champion and becomes the
 * challenger of a shadow experiment; a rerun on the same dataset version and seed rebuilds the same model.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { LocalFunctionHost } from '../../../local/host/host';
import { DurableExtension } from '../../../local/host/durable/extension';
import { startServiceBusPeer, type ServiceBusPeer } from '../../../local/servicebus/peer';
import { resetConfigForTests } from '../../../shared/config';
import { getExperimentRunner, LIFECYCLE_EVENTS_TOPIC } from '../../../shared/lifecycle';
import { uploadModelPackage } from '../../../shared/model-package';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { resetPlatformClientsForTests } from '../../../shared/platform/clients';
import { BLOB_CONTAINERS } from '../../../shared/platform/resources';
import { getModelRegistry } from '../../../shared/registry/default';
import { buildTinyPackage } from '../../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../../support/stack';
import { sleep, waitFor } from '../../support/wait';
import { generateRows, rowsToCsv } from '../../unit/training/pipeline/generated-rows';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const root = path.join(__dirname, '../../..');
const SYSTEM = { kind: 'system', id: 'test' } as const;

describe('retraining pipeline through the local host', () => {
  let stack: TestStack;
  let peer: ServiceBusPeer;
  let host: LocalFunctionHost;
  const logs: string[] = [];

  beforeAll(async () => {
    const built = path.join(root, 'dist/functions/retrain.js');
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
    stack = await startTestStack({ cosmosDatabase: 'pipelinetest' });
    peer = await startServiceBusPeer({
      port: 0,
      entities: { queues: ['feedback'], topics: { [LIFECYCLE_EVENTS_TOPIC]: ['audit'] } },
      maxDeliveryCount: 3,
    });
    process.env.ServiceBus = peer.connectionString;
    await stack.useAsProcessEnv();
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    // A weak champion (eight of the sixteen generated codes) for the candidate to be gated against.
    const models = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    await uploadModelPackage(models, 'champ-1/', buildTinyPackage({ modelVersion: 'champ-1' }).files);
    await getModelRegistry().register('champ-1', { actor: SYSTEM, reason: 'seeded' });
    await getModelRegistry().promote('champ-1', { actor: SYSTEM, reason: 'seeded' });
    host = new LocalFunctionHost({
      appRoot: root,
      entry: 'test/integration/pipeline/app.js',
      port: 0,
      functionKey: 'test-key',
      settings: { ...stack.env, ServiceBus: peer.connectionString },
      storageConnectionString: stack.env.AzureWebJobsStorage,
      extensions: [new DurableExtension({ taskHubName: 'PipelineHub' })],
      blob: { pollIntervalMs: 200 },
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });
    await host.start();
  }, 180_000);

  afterAll(async () => {
    await host?.stop();
    delete process.env.ServiceBus;
    await stack?.stop();
    resetConfigForTests();
    await resetPlatformClientsForTests();
    await peer?.stop();
  }, 180_000);

  const request = async (
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> => {
    const response = await fetch(`${host.baseUrl}/api/${route}`, {
      method,
      headers: { 'x-functions-key': host.functionKey, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
  };
  /**
   * A kept-alive connection the server timed out between polls (the machine is busy training) is reset on reuse,
   * so a reset is retried (a few times: the next attempt may pick another stale one).
   */
  const api = async (
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request(method, route, body);
      } catch (error: unknown) {
        if (!(error instanceof TypeError && /fetch failed/.test(error.message)) || attempt === 10)
          throw error;
        await sleep(200);
      }
    }
  };

  async function finished(id: string, seen: (view: any) => void = () => {}): Promise<any> {
    let view: any;
    await waitFor(
      `pipeline ${id}`,
      async () => {
        const response = await api('GET', `pipelines/${id}`);
        if (response.status !== 200) return false;
        view = response.json;
        seen(view);
        if (view.runtimeStatus === 'Failed')
          throw new Error(`pipeline failed: ${JSON.stringify(view.record)}`);
        return view.runtimeStatus === 'Completed';
      },
      240_000,
    );
    return view;
  }

  it('ingests an upload, retrains, gates and starts the challenger experiment; a rerun rebuilds the same model', async () => {
    const rows = generateRows(3000, 11);
    const csv = rowsToCsv(rows) + ',610910\nsomething,99999999\n';
    const started = Date.now();
    await stack.clients.dataBlobs
      .getContainerClient(BLOB_CONTAINERS.incoming)
      .getBlockBlobClient('generated.csv')
      .uploadData(Buffer.from(csv));

    let pipelineId: string | undefined;
    await waitFor(
      'a pipeline started by the new dataset version',
      async () => {
        const list = await api('GET', 'pipelines');
        pipelineId = list.json?.pipelines?.[0]?.id;
        return pipelineId !== undefined;
      },
      120_000,
    );
    const stagesSeen = new Set<string>();
    let maxEpoch = 0;
    const view = await finished(pipelineId!, (v) => {
      if (v.customStatus?.stage) stagesSeen.add(v.customStatus.stage);
      for (const p of v.progress ?? []) maxEpoch = Math.max(maxEpoch, p.epoch);
    });
    const seconds = (Date.now() - started) / 1000;
    logs.push(`pipeline finished in ${seconds.toFixed(1)} s: ${JSON.stringify(view.record.stageSeconds)}`);

    const record = view.record;
    expect(record.status).toBe('completed');
    expect(record.trigger.source).toBe('dataset');
    expect(record.datasetVersion).toMatch(/^ds-[0-9a-f]{20}$/);
    expect(record.candidates.map((c: { arch: string }) => c.arch).sort()).toEqual(['bag', 'textcnn']);
    expect(record.gate.passed).toBe(true);
    expect(record.gate.champion).toBe('champ-1');
    expect(record.gate.parityAgreement).toBeGreaterThanOrEqual(0.999);
    expect(record.gate.checks[0].name).toBe('overall');
    expect(record.gate.checks[0].difference).toBeGreaterThan(0.2);
    expect(stagesSeen.has('training')).toBe(true);
    expect(maxEpoch).toBeGreaterThanOrEqual(1);
    expect(view.progress.every((p: any) => p.stage === 'done')).toBe(true);

    const aliases = await getModelRegistry().aliases();
    expect(aliases.champion?.modelVersion).toBe('champ-1');
    expect(aliases.challenger?.modelVersion).toBe(record.winner);
    expect(record.challenger).toBe(record.winner);
    const experiment = await getExperimentRunner().get(record.experimentId);
    expect(experiment?.record.status).toBe('running');
    expect(experiment?.record.challengerVersion).toBe(record.winner);
    const winner = record.candidates.find((c: any) => c.modelVersion === record.winner);
    expect(winner.metrics['test.accuracyAt1']).toBeGreaterThan(0.8);

    // Same dataset version and seed, without registering: the same weights, byte for byte.
    const rerun = await api('POST', 'retrain', {
      datasetVersion: record.datasetVersion,
      reason: 'reproduce',
      settings: { register: false },
    });
    expect(rerun.status).toBe(202);
    const again = (await finished(rerun.json.id)).record;
    expect(again.status).toBe('completed');
    expect(again.challenger).toBeNull();
    const hashes = (r: { candidates: { arch: string; modelHash: string }[] }): Record<string, string> =>
      Object.fromEntries(r.candidates.map((c) => [c.arch, c.modelHash]));
    expect(hashes(again)).toEqual(hashes(record));

    // The svm is opt-in: its solver threads run inside the candidate's worker thread on the host.
    const svm = await api('POST', 'retrain', {
      datasetVersion: record.datasetVersion,
      reason: 'svm',
      settings: { archs: ['svm'], register: false },
    });
    expect(svm.status).toBe(202);
    const svmRecord = (await finished(svm.json.id)).record;
    expect(svmRecord.status).toBe('completed');
    expect(svmRecord.candidates.map((c: { arch: string }) => c.arch)).toEqual(['svm']);
    expect(svmRecord.candidates[0].metrics['test.accuracyAt1']).toBeGreaterThan(0.8);

    expect((await api('POST', 'retrain', { settings: { archs: ['transformer'] } })).status).toBe(400);
    expect((await api('GET', 'pipelines/nope')).status).toBe(404);
  }, 600_000);
});

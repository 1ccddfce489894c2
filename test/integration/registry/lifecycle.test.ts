import * as path from 'path';
import { ServiceBusClient } from '@azure/service-bus';
import { LocalFunctionHost } from '../../../local/host/host';
import { startServiceBusPeer, type ServiceBusPeer } from '../../../local/servicebus/peer';
import type { PredictionRecord } from '../../../shared/audit/record';
import { resetConfigForTests } from '../../../shared/config';
import { shadowPredictionId, getFeedbackService } from '../../../shared/feedback';
import { getExperimentRunner, LIFECYCLE_EVENTS_TOPIC, type LifecycleEvent } from '../../../shared/lifecycle';
import { uploadModelPackage } from '../../../shared/model-package/package';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { resetPlatformClientsForTests } from '../../../shared/platform/clients';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { getModelRegistry, type RegistryLogEntry } from '../../../shared/registry';
import { buildTinyPackage } from '../../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../../support/stack';
import { waitFor } from '../../support/wait';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const root = path.join(__dirname, '../../..');
const ITEMS = 80;

function prediction(
  id: string,
  modelVersion: string,
  arm: string,
  code: string,
  at: string,
): PredictionRecord {
  return {
    id,
    recordVersion: 1,
    createdAt: at,
    caller: { callerId: 'test', clientAddress: null, invocationId: 'inv' },
    itemId: null,
    inputHash: 'h',
    normalizedText: 'steel bolts',
    context: null,
    modelVersion,
    packageHash: 'p',
    arm,
    options: { topK: 1, explain: false },
    codes: [{ code, confidence: 0.9 }] as unknown as PredictionRecord['codes'],
    heading: { code: code.slice(0, 4), confidence: 0.9 } as unknown as PredictionRecord['heading'],
    chapter: { code: code.slice(0, 2), confidence: 0.9 } as unknown as PredictionRecord['chapter'],
    decision: { outcome: 'auto', reason: 'confident', threshold: 0.9, headingThreshold: 0.9 },
    explanation: null,
    latency: { totalMs: 4, batchSize: 1 },
  };
}

describe('registry, feedback over Service Bus and the decision, through the local host', () => {
  let stack: TestStack;
  let peer: ServiceBusPeer;
  let host: LocalFunctionHost;
  let bus: ServiceBusClient;
  const logs: string[] = [];

  const api = async (
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> => {
    const response = await fetch(`${host.baseUrl}/api/${route}`, {
      method,
      headers: { 'x-functions-key': host.functionKey, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
  };

  beforeAll(async () => {
    stack = await startTestStack({ cosmosDatabase: 'lifecycletest' });
    peer = await startServiceBusPeer({
      port: 0,
      entities: { queues: ['feedback'], topics: { [LIFECYCLE_EVENTS_TOPIC]: ['audit'] } },
      maxDeliveryCount: 3,
    });
    process.env.ServiceBus = peer.connectionString;
    await stack.useAsProcessEnv();
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    bus = new ServiceBusClient(peer.connectionString);
    host = new LocalFunctionHost({
      appRoot: root,
      entry: 'test/integration/registry/app.js',
      port: 0,
      functionKey: 'test-key',
      settings: { ...stack.env, ServiceBus: peer.connectionString },
      storageConnectionString: stack.env.AzureWebJobsStorage,
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });
    await host.start();
  }, 120_000);

  afterAll(async () => {
    await host?.stop();
    await bus?.close();
    delete process.env.ServiceBus;
    await stack?.stop();
    resetConfigForTests();
    await resetPlatformClientsForTests();
    await peer?.stop();
  });

  it('promotes a better shadow challenger from feedback sent over Service Bus, with every step in the log', async () => {
    const models = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    for (const [version, seed] of [
      ['champ-1', 1],
      ['chall-2', 2],
    ] as const) {
      await uploadModelPackage(
        models,
        `${version}/`,
        buildTinyPackage({ modelVersion: version, seed }).files,
      );
      await getModelRegistry().register(version, {
        actor: { kind: 'system', id: 'training' },
        reason: 'trained',
      });
    }
    expect((await api('POST', 'models/champ-1/promote', { actor: 'owner@example.com' })).status).toBe(400);
    const first = await api('POST', 'models/champ-1/promote', {
      actor: 'owner@example.com',
      reason: 'first model',
    });
    expect(first.status).toBe(200);

    const experiment = await getExperimentRunner().start({
      challengerVersion: 'chall-2',
      mode: 'shadow',
      policy: { minSamplesPerArm: 20, minDiscordantPairs: 10, minRequestsForGuardrails: 10 },
      actor: { kind: 'system', id: 'retrain' },
      reason: 'passed the evaluation gate',
    });

    // The champion is right on even items only; the shadow challenger on every item.
    const predictions = stack.clients.database.container(COSMOS_CONTAINERS.predictions.id);
    const at = new Date(Date.now() + 1000).toISOString();
    for (let i = 0; i < ITEMS; i++) {
      const truth = '731815';
      await predictions.items.create(
        prediction(`p-${i}`, 'champ-1', 'champion', i % 2 === 0 ? truth : '850440', at),
      );
      await predictions.items.create(
        prediction(shadowPredictionId(`p-${i}`), 'chall-2', 'challenger', truth, at),
      );
    }

    const sender = bus.createSender('feedback');
    const feedback = Array.from({ length: ITEMS }, (_, i) => ({
      body: { predictionId: `p-${i}`, hsCode: '7318.15' },
    }));
    await sender.sendMessages([...feedback, { body: { predictionId: 'p-3', hsCode: '731815' } }]);
    await sender.sendMessages({ body: 'not json at all', messageId: 'malformed-1' });
    await sender.sendMessages({ body: { predictionId: 'nobody', hsCode: '731815' }, messageId: 'unknown-1' });
    await sender.close();

    await waitFor(
      'dead-lettered feedback',
      () => peer.counts('feedback/$DeadLetterQueue').active === 2,
      30_000,
    );
    await waitFor(
      'feedback drained',
      () => peer.counts('feedback').active + peer.counts('feedback').locked === 0,
      30_000,
    );
    expect(await getFeedbackService().servedSince(at)).toHaveLength(ITEMS);

    const deadLetters = bus.createReceiver('feedback', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const dead = await deadLetters.receiveMessages(2, { maxWaitTimeInMs: 2000 });
    await deadLetters.close();
    expect(dead.map((m) => m.deadLetterReason).sort()).toEqual(['malformed', 'unknown-prediction']);
    expect(dead.find((m) => m.deadLetterReason === 'malformed')?.deadLetterErrorDescription).toMatch(
      /JSON object/,
    );
    // Azure's trigger cannot dead-letter with our reason, so it is also kept in Cosmos, by message id.
    expect(await getFeedbackService().rejection('malformed-1')).toMatchObject({
      kind: 'rejection',
      reason: 'malformed',
      description: expect.stringMatching(/JSON object/),
      deliveryCount: 1,
      body: '"not json at all"',
    });
    expect(await getFeedbackService().rejection('unknown-1')).toMatchObject({
      reason: 'unknown-prediction',
      body: JSON.stringify({ predictionId: 'nobody', hsCode: '731815' }),
    });

    const page = await api('GET', `experiments/${experiment.id}`);
    expect(page.status).toBe(200);
    expect(page.json.wouldDecide).toBe('promote');

    const decided = await getExperimentRunner().decideAll();
    expect(decided.failures).toEqual([]);
    expect(decided.outcomes.map((o) => o.applied)).toEqual(['promote']);
    expect((await api('GET', 'models')).json.aliases).toEqual({ champion: 'chall-2', challenger: null });
    expect((await getModelRegistry().get('champ-1'))?.status).toBe('retired');

    const history = (await api('GET', 'models/history')).json.entries as RegistryLogEntry[];
    const promoted = history.find((e) => e.modelVersion === 'chall-2' && e.action === 'promoted');
    expect(promoted?.actor).toEqual({ kind: 'system', id: 'experiments-decision-timer' });
    expect(promoted?.evidence).toMatchObject({ experimentId: experiment.id, champion: 'champ-1' });
    expect(promoted?.evidence).toMatchObject({
      counts: { mode: 'shadow', pairs: { hs6: { challengerOnly: ITEMS / 2, championOnly: 0 } } },
      statistics: { levels: { hs6: { comparisons: [{ mcnemar: { discordant: ITEMS / 2 } }] } } },
    });
    expect(history.map((e) => `${e.modelVersion}:${e.action}`)).toEqual(
      expect.arrayContaining([
        'champ-1:registered',
        'champ-1:promoted',
        'chall-2:challenger-set',
        'champ-1:retired',
      ]),
    );

    const events = bus.createReceiver(LIFECYCLE_EVENTS_TOPIC, 'audit', { receiveMode: 'receiveAndDelete' });
    const received = await events.receiveMessages(10, { maxWaitTimeInMs: 2000 });
    await events.close();
    const types = received.map((m) => (m.body as LifecycleEvent).type);
    expect(types).toEqual(expect.arrayContaining(['model.promoted', 'experiment.started', 'model.promoted']));
    expect(
      received.some(
        (m) =>
          (m.body as LifecycleEvent).experimentId === experiment.id &&
          (m.body as LifecycleEvent).type === 'model.promoted',
      ),
    ).toBe(true);
  }, 120_000);

  it('counts the same feedback once over HTTP and rejects unknown or malformed bodies', async () => {
    const again = await api('POST', 'feedback', { predictionId: 'p-1', hsCode: '731815' });
    expect(again.status).toBe(200);
    expect(again.json.outcome).toBe('duplicate');
    expect((await api('POST', 'feedback', { predictionId: 'p-1', hsCode: '850440' })).status).toBe(409);
    expect((await api('POST', 'feedback', { predictionId: 'ghost', hsCode: '731815' })).status).toBe(404);
    const bad = await api('POST', 'feedback', { predictionId: 'p-1', hsCode: '12' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/hsCode/);
  });

  it('rolls back with a reason, refuses without one, and serves the restored champion', async () => {
    expect((await api('POST', 'models/chall-2/rollback', { actor: 'owner@example.com' })).status).toBe(400);
    expect(
      (await api('POST', 'models/champ-1/rollback', { actor: 'a', reason: 'not champion' })).status,
    ).toBe(409);
    expect((await api('POST', 'models/ghost/promote', { actor: 'a', reason: 'no such model' })).status).toBe(
      404,
    );
    const rolled = await api('POST', 'models/chall-2/rollback', {
      actor: 'owner@example.com',
      reason: 'broker complaints',
    });
    expect(rolled.status).toBe(200);
    expect(rolled.json.champion.modelVersion).toBe('champ-1');
    const detail = await api('GET', 'models/chall-2');
    expect(detail.json.model.status).toBe('rejected');
    expect(detail.json.history.at(-1)).toMatchObject({
      action: 'rejected',
      actor: { kind: 'person', id: 'owner@example.com' },
      reason: 'broker complaints',
    });
    expect((await api('GET', 'models/nope')).status).toBe(404);
  });
});

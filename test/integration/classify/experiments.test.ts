/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 *
 * Experiments reach serving, through the local host with the Cosmos emulator, Azurite and the local Service Bus
 * peer: the registry's champion serves, a shadow challenger scores every item off the response path, feedback
 * over Service Bus joins both, the decision timer promotes, the serving model follows the champion alias, and
 * the audit log holds every step with its evidence. A split experiment assigns sticky units in its share.
 */
import * as path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { LocalFunctionHost } from '../../../local/host/host';
import { startServiceBusPeer, type ServiceBusPeer } from '../../../local/servicebus/peer';
import type { PredictionRecord } from '../../../shared/audit/record';
import { assignToChallenger, checkSampleRatio } from '../../../shared/experiments/assignment';
import { getFeedbackService, shadowPredictionId } from '../../../shared/feedback';
import {
  getClassificationService,
  setClassificationServiceForTests,
  type ClassifyResponse,
} from '../../../shared/inference/service';
import { getExperimentRunner, LIFECYCLE_EVENTS_TOPIC } from '../../../shared/lifecycle';
import { uploadModelPackage } from '../../../shared/model-package/package';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { getModelRegistry, type RegistryLogEntry } from '../../../shared/registry';
import { buildTinyPackage } from '../../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../../support/stack';
import { waitFor } from '../../support/wait';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const root = path.join(__dirname, '../../..');
const REFRESH_MS = 150;

/** Descriptions in the tiny packages' vocabulary, with the code each truly belongs to. */
const LABELLED: readonly (readonly [string, string])[] = [
  ['cotton tshirt tee', '610910'],
  ['polyester tshirt knitted', '610990'],
  ['denim jeans trousers', '620342'],
  ['portable laptop notebook', '847130'],
  ['desktop tower workstation', '847141'],
  ['green arabica coffee beans', '090111'],
  ['roasted ground coffee espresso', '090121'],
  ['android smartphone mobile phone', '851713'],
];
const REPEATS = 12;
const SHADOW_ITEMS = LABELLED.length * REPEATS;

const timerInfo = { json: JSON.stringify({ Schedule: { AdjustForDST: true }, IsPastDue: false }) };

describe('experiments in classification, through the local host', () => {
  let stack: TestStack;
  let peer: ServiceBusPeer;
  let host: LocalFunctionHost;
  let bus: ServiceBusClient;
  const logs: string[] = [];
  const saved = {
    refresh: process.env.MODEL_REFRESH_INTERVAL_MS,
    modelPackage: process.env.MODEL_PACKAGE,
  };

  const api = async (
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; json: any; headers: Headers }> => {
    const response = await fetch(`${host.baseUrl}/api/${route}`, {
      method,
      headers: { 'x-functions-key': host.functionKey, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: text === '' ? undefined : JSON.parse(text),
      headers: response.headers,
    };
  };

  const servingVersion = async (): Promise<string | null> => {
    const response = await api('GET', 'classify?description=cotton%20tshirt');
    return response.status === 200 ? response.headers.get('x-model-version') : null;
  };

  const register = async (version: string, options: { seed: number; epochs?: number }): Promise<void> => {
    const models = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    await uploadModelPackage(
      models,
      `${version}/`,
      buildTinyPackage({ modelVersion: version, ...options }).files,
    );
    await getModelRegistry().register(version, {
      actor: { kind: 'system', id: 'training' },
      reason: 'trained',
    });
  };

  const readPrediction = async (id: string): Promise<PredictionRecord | undefined> => {
    const container = stack.clients.database.container(COSMOS_CONTAINERS.predictions.id);
    return (await container.item(id, id).read<PredictionRecord>()).resource;
  };

  beforeAll(async () => {
    stack = await startTestStack({ cosmosDatabase: 'servingexperiments' });
    peer = await startServiceBusPeer({
      port: 0,
      entities: { queues: ['feedback'], topics: { [LIFECYCLE_EVENTS_TOPIC]: ['audit'] } },
      maxDeliveryCount: 3,
    });
    process.env.ServiceBus = peer.connectionString;
    process.env.MODEL_REFRESH_INTERVAL_MS = String(REFRESH_MS);
    delete process.env.MODEL_PACKAGE;
    await stack.useAsProcessEnv();
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    bus = new ServiceBusClient(peer.connectionString);
    host = new LocalFunctionHost({
      appRoot: root,
      entry: 'test/integration/classify/experiments-app.js',
      port: 0,
      functionKey: 'test-key',
      settings: {
        ...stack.env,
        ServiceBus: peer.connectionString,
        MODEL_REFRESH_INTERVAL_MS: String(REFRESH_MS),
      },
      storageConnectionString: stack.env.AzureWebJobsStorage,
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });
    await host.start();
  }, 120_000);

  afterAll(async () => {
    // The host first: an invocation still running after the service closed would build a new one, with a
    // model poller nobody stops.
    await host?.stop();
    await setClassificationServiceForTests(undefined);
    await bus?.close();
    delete process.env.ServiceBus;
    for (const [name, value] of [
      ['MODEL_REFRESH_INTERVAL_MS', saved.refresh],
      ['MODEL_PACKAGE', saved.modelPackage],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await stack?.stop();
    await peer?.stop();
  });

  it('serves nothing until the registry names a champion, then serves the champion', async () => {
    const none = await api('GET', 'classify?description=cotton%20tshirt');
    expect(none.status).toBe(503);
    expect(none.json.error.message).toMatch(/no champion/);
    await register('champ-1', { seed: 1, epochs: 0 });
    await register('chall-2', { seed: 2 });
    const promoted = await api('POST', 'models/champ-1/promote', {
      actor: 'owner@example.com',
      reason: 'first',
    });
    expect(promoted.status).toBe(200);
    await waitFor('champ-1 serving', async () => (await servingVersion()) === 'champ-1', 10_000);
  }, 60_000);

  it('shadow: the champion answers, the challenger scores off the path, feedback promotes it', async () => {
    const experiment = await getExperimentRunner().start({
      challengerVersion: 'chall-2',
      mode: 'shadow',
      // Every item's feedback must be in before the evidence can suffice, whenever the timer happens to fire.
      // Both models share two test cores, where a p95 over four batches is noise; the guardrail's own tests cover it.
      policy: {
        minSamplesPerArm: SHADOW_ITEMS,
        minDiscordantPairs: 10,
        minRequestsForGuardrails: 10,
        maxP95LatencyIncreaseMs: 5_000,
      },
      actor: { kind: 'system', id: 'retrain' },
      reason: 'passed the evaluation gate',
    });
    const service = getClassificationService();
    await waitFor(
      'the challenger session',
      () => service.options.experiments?.active?.experiment.id === experiment.id,
    );

    const served: { predictionId: string; truth: string; code: string }[] = [];
    for (let batch = 0; batch < REPEATS / 3; batch++) {
      const items = Array.from({ length: 3 }, () => LABELLED).flat();
      const response = await api('POST', 'classify', {
        items: items.map(([description], i) => ({ id: `b${batch}-${i}`, description })),
        topK: 2,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-model-version')).toBe('champ-1');
      const body = response.json as ClassifyResponse;
      expect(body).toMatchObject({ modelVersion: 'champ-1', arm: 'champion', experimentId: experiment.id });
      body.items.forEach((item, i) => {
        expect(item).toMatchObject({ arm: 'champion', modelVersion: 'champ-1' });
        served.push({ predictionId: item.predictionId, truth: items[i]![1], code: item.codes[0]!.code });
      });
    }
    expect(served).toHaveLength(SHADOW_ITEMS);

    await service.shadowIdle();
    await service.options.audit.flush();
    let championOnly = 0;
    let challengerOnly = 0;
    for (const { predictionId, truth, code } of served) {
      const record = await readPrediction(predictionId);
      expect(record).toMatchObject({ arm: 'champion', modelVersion: 'champ-1', experimentId: experiment.id });
      const shadow = await readPrediction(shadowPredictionId(predictionId));
      expect(shadow).toMatchObject({
        arm: 'challenger',
        modelVersion: 'chall-2',
        experimentId: experiment.id,
        normalizedText: record?.normalizedText,
      });
      const championRight = code === truth;
      const challengerRight = shadow?.codes[0]?.code === truth;
      if (championRight && !challengerRight) championOnly++;
      if (challengerRight && !championRight) challengerOnly++;
    }
    // The untrained champion and the trained challenger really differ, and the challenger is the better one.
    expect(challengerOnly).toBeGreaterThan(championOnly + 20);

    const sender = bus.createSender('feedback');
    await sender.sendMessages(
      served.map(({ predictionId, truth }) => ({ body: { predictionId, hsCode: truth } })),
    );
    await sender.close();
    await waitFor(
      'feedback recorded',
      async () => (await getFeedbackService().servedSince(experiment.startedAt)).length === SHADOW_ITEMS,
      30_000,
    );
    expect(peer.counts('feedback/$DeadLetterQueue').active).toBe(0);

    await host.registry.invoke('decideExperiments', { triggerData: timerInfo });
    expect((await api('GET', 'models')).json.aliases).toEqual({ champion: 'chall-2', challenger: null });
    await waitFor('chall-2 serving', async () => (await servingVersion()) === 'chall-2', 10_000);
    await waitFor('the experiment left serving', () => service.options.experiments?.active === undefined);
    const after = await api('POST', 'classify', { items: [{ description: 'roasted coffee' }] });
    expect(after.json).toMatchObject({ modelVersion: 'chall-2', arm: 'champion', experimentId: null });

    const history = (await api('GET', 'models/history')).json.entries as RegistryLogEntry[];
    expect(history.map((e) => `${e.modelVersion}:${e.action}`)).toEqual(
      expect.arrayContaining([
        'champ-1:registered',
        'chall-2:registered',
        'champ-1:promoted',
        'chall-2:challenger-set',
        'chall-2:promoted',
        'champ-1:retired',
        'chall-2:challenger-cleared',
      ]),
    );
    const start = history.find((e) => e.modelVersion === 'chall-2' && e.action === 'challenger-set');
    expect(start?.evidence).toMatchObject({
      experimentId: experiment.id,
      mode: 'shadow',
      champion: 'champ-1',
    });
    const promotion = history.find((e) => e.modelVersion === 'chall-2' && e.action === 'promoted');
    expect(promotion?.actor).toEqual({ kind: 'system', id: 'experiments-decision-timer' });
    expect(promotion?.evidence).toMatchObject({
      experimentId: experiment.id,
      previousChampion: 'champ-1',
      counts: { mode: 'shadow', pairs: { hs6: { challengerOnly, championOnly } } },
      statistics: {
        levels: { hs6: { comparisons: [{ mcnemar: { discordant: challengerOnly + championOnly } }] } },
      },
    });
    const retired = history.find((e) => e.modelVersion === 'champ-1' && e.action === 'retired');
    expect(retired?.evidence).toMatchObject({ newChampion: 'chall-2', experimentId: experiment.id });
    // Replay still reaches the retired champion through the registry.
    const replay = await api('POST', `predictions/${served[0]!.predictionId}/replay`);
    expect(replay.json).toMatchObject({ modelVersion: 'champ-1', identical: true });
  }, 120_000);

  it('split: sticky assignment by the caller key or the prediction id, in the configured share', async () => {
    await register('chall-3', { seed: 3 });
    const share = 0.3;
    const experiment = await getExperimentRunner().start({
      challengerVersion: 'chall-3',
      mode: 'split',
      challengerShare: share,
      actor: { kind: 'system', id: 'retrain' },
      reason: 'split trial',
    });
    const service = getClassificationService();
    await waitFor(
      'the split challenger',
      () => service.options.experiments?.active?.experiment.id === experiment.id,
    );

    const armFor = (key: string): string =>
      assignToChallenger(experiment.id, key, share) ? 'challenger' : 'champion';
    const versionOf = { champion: 'chall-2', challenger: 'chall-3' } as Record<string, string>;
    const units = Array.from({ length: 400 }, (_, i) => `shipment-${i}`);
    const seen = new Map<string, string>();
    for (const round of [0, 1]) {
      // The second round sends every shipment again, under the other context field and in another order.
      const ordered = round === 0 ? units : [...units].reverse();
      const response = await api('POST', 'classify', {
        items: ordered.map((unit, i) => ({
          description: LABELLED[i % LABELLED.length]![0],
          context: round === 0 ? { shipmentId: unit } : { declarantId: unit },
        })),
      });
      expect(response.status).toBe(200);
      const body = response.json as ClassifyResponse;
      expect(body).toMatchObject({ arm: 'mixed', experimentId: experiment.id });
      expect(body.modelVersion.split(',').sort()).toEqual(['chall-2', 'chall-3']);
      body.items.forEach((item, i) => {
        const unit = ordered[i]!;
        expect(item.arm).toBe(armFor(unit));
        expect(item.modelVersion).toBe(versionOf[item.arm]);
        if (round === 1) expect(item.arm).toBe(seen.get(unit));
        seen.set(unit, item.arm);
      });
    }
    const challengerUnits = [...seen.values()].filter((arm) => arm === 'challenger').length;
    const srm = checkSampleRatio([units.length - challengerUnits, challengerUnits], [1 - share, share]);
    expect(srm.mismatch).toBe(false);
    expect(challengerUnits / units.length).toBeGreaterThan(0.2);
    expect(challengerUnits / units.length).toBeLessThan(0.4);

    // Without a caller key, the prediction id is the unit.
    const keyless = await api('POST', 'classify', {
      items: Array.from({ length: 60 }, (_, i) => ({ description: LABELLED[i % LABELLED.length]![0] })),
    });
    const keylessItems = (keyless.json as ClassifyResponse).items;
    for (const item of keylessItems) expect(item.arm).toBe(armFor(item.predictionId));
    expect(new Set(keylessItems.map((item) => item.arm))).toEqual(new Set(['champion', 'challenger']));

    await service.options.audit.flush();
    const sample = keylessItems[0]!;
    expect(await readPrediction(sample.predictionId)).toMatchObject({
      arm: sample.arm,
      modelVersion: versionOf[sample.arm],
      experimentId: experiment.id,
    });
    expect(await readPrediction(shadowPredictionId(sample.predictionId))).toBeUndefined();

    // The experiment page counts the same split, and its own SRM guard agrees.
    const page = await api('GET', `experiments/${experiment.id}`);
    expect(page.status).toBe(200);
    expect(JSON.stringify(page.json.statistics)).toMatch(/"mismatch":false/);
  }, 120_000);
});

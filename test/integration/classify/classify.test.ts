/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 *
 * The classification API through the local host's HTTP server, with real Azurite and the Cosmos emulator: every
 * response field, the audit record of each prediction, replay identity, bad input, a fuzz run, an atomic model
 * swap under load, and no lost audit records while Cosmos is down.
 */
import { connect } from 'node:net';
import * as path from 'node:path';
import fc from 'fast-check';
import { HttpTriggerServer } from '../../../local/host/http';
import { loadApp } from '../../../local/host/app-loader';
import { FunctionRegistry } from '../../../local/host/registry';
import { startCosmosEmulator, type RunningCosmosEmulator } from '../../../local/services/cosmos';
import { CLASSIFY_LIMITS } from '../../../shared/api/classify-request';
import type { PredictionRecord } from '../../../shared/audit/record';
import {
  getClassificationService,
  setClassificationServiceForTests,
  type ClassifyResponse,
  type ReplayResult,
} from '../../../shared/inference/service';
import { blobPackageFiles, uploadModelPackage } from '../../../shared/model-package/package';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { getPlatformClients } from '../../../shared/platform/clients';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { startTestStack, type TestStack } from '../../support/stack';
import { buildTinyPackage } from '../../support/inference/tiny-package';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const KEY = 'classify-test-key';

/** Resolves once nothing accepts connections on the port: the emulator process is really gone. */
async function untilRefused(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (!accepted) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`port ${port} still accepts connections`);
}
const root = path.join(__dirname, '../../..');

describe('classification API through the local host', () => {
  let stack: TestStack;
  let server: HttpTriggerServer;
  let baseUrl = '';
  let restartedCosmos: RunningCosmosEmulator | undefined;
  const savedModelPackage = process.env.MODEL_PACKAGE;

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${baseUrl}/api/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': KEY, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    stack = await startTestStack();
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    const models = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    await uploadModelPackage(models, 'tiny-1/', buildTinyPackage({ modelVersion: 'tiny-1' }).files);
    await uploadModelPackage(models, 'tiny-2/', buildTinyPackage({ modelVersion: 'tiny-2', seed: 3 }).files);
    process.env.MODEL_PACKAGE = 'tiny-1/';
    await stack.useAsProcessEnv();
    const registrations = ['classify', 'predictions', 'openapi'].flatMap((name) =>
      loadApp({ appRoot: root, entry: `functions/${name}.ts` }),
    );
    const logs: string[] = [];
    const registry = new FunctionRegistry(registrations, (level, msg) => logs.push(`${level} ${msg}`));
    server = new HttpTriggerServer(registry, {
      port: 0,
      functionKey: KEY,
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });
    baseUrl = await server.start();
  });

  afterAll(async () => {
    await server?.stop();
    await setClassificationServiceForTests(undefined);
    if (savedModelPackage === undefined) delete process.env.MODEL_PACKAGE;
    else process.env.MODEL_PACKAGE = savedModelPackage;
    await restartedCosmos?.stop();
    await stack?.stop();
  });

  it('classifies a batch with every field, the model version header, and function-level auth', async () => {
    expect((await fetch(`${baseUrl}/api/classify`, { method: 'POST', body: '{}' })).status).toBe(401);
    const response = await post(
      {
        items: [
          { id: 'a', description: 'Roasted coffee espresso 1kg', context: { origin: 'BR' } },
          { id: 'b', description: 'tshirt tee knitted' },
        ],
        topK: 3,
      },
      { 'x-caller-id': 'erp-1' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-model-version')).toBe('tiny-1');
    const body = (await response.json()) as ClassifyResponse;
    expect(body).toMatchObject({ modelVersion: 'tiny-1', arm: 'champion' });
    expect(body.timings.totalMs).toBeGreaterThan(0);
    expect(body.timings.inferenceMs).toBeGreaterThan(0);
    const [coffee, tshirt] = body.items;
    expect(coffee).toMatchObject({
      id: 'a',
      predictionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      heading: { code: '0901', description: expect.stringMatching(/coffee/i) },
      chapter: { code: '09' },
      decision: { outcome: 'auto', reason: 'confident', threshold: 0.9, headingThreshold: 0.9 },
      explanation: { method: 'occlusion', code: '090121' },
    });
    expect(coffee!.codes.map((c) => c.code)[0]).toBe('090121');
    expect(coffee!.codes).toHaveLength(3);
    expect(coffee!.explanation!.tokens.map((t) => t.token)).toEqual([
      'roasted',
      'coffee',
      'espresso',
      '~9a',
      '#1',
      'kg',
    ]);
    expect(tshirt!.decision).toMatchObject({ outcome: 'review', reason: 'heading-sure' });
    expect(tshirt!.heading.code).toBe('6109');
  });

  it('classifies one description with GET', async () => {
    const response = await fetch(
      `${baseUrl}/api/classify?description=${encodeURIComponent('laptop computer')}&topK=2&code=${KEY}`,
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as ClassifyResponse;
    expect(body.items).toHaveLength(1);
    expect(body.items[0]!.codes).toHaveLength(2);
    expect(body.items[0]!.codes[0]!.code).toBe('847130');
  });

  it('records every prediction in Cosmos, serves the record, and replays it identically', async () => {
    const response = await post(
      { items: [{ id: 'x1', description: 'Android smartphone 128GB', context: { po: 7 } }] },
      { 'x-caller-id': 'erp-2' },
    );
    const body = (await response.json()) as ClassifyResponse;
    const predictionId = body.items[0]!.predictionId;
    await getClassificationService().options.audit.flush();
    const container = stack.clients.database.container(COSMOS_CONTAINERS.predictions.id);
    const { resource } = await container.item(predictionId, predictionId).read<PredictionRecord>();
    expect(resource).toMatchObject({
      id: predictionId,
      caller: { callerId: 'erp-2' },
      itemId: 'x1',
      inputHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      normalizedText: 'android smartphone 128gb',
      context: { po: 7 },
      modelVersion: 'tiny-1',
      packageHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      arm: 'champion',
      codes: body.items[0]!.codes,
      decision: body.items[0]!.decision,
      explanation: body.items[0]!.explanation,
      latency: { totalMs: expect.any(Number), batchSize: 1 },
    });

    const read = await fetch(`${baseUrl}/api/predictions/${predictionId}?code=${KEY}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as PredictionRecord).id).toBe(predictionId);
    expect((await fetch(`${baseUrl}/api/predictions/not-a-uuid?code=${KEY}`)).status).toBe(400);
    expect(
      (await fetch(`${baseUrl}/api/predictions/00000000-0000-4000-8000-000000000000?code=${KEY}`)).status,
    ).toBe(404);

    const replay = await fetch(`${baseUrl}/api/predictions/${predictionId}/replay?code=${KEY}`, {
      method: 'POST',
    });
    expect(replay.status).toBe(200);
    const replayed = (await replay.json()) as ReplayResult;
    expect(replayed).toMatchObject({ identical: true, differences: [], modelVersion: 'tiny-1' });
    expect(replayed.replayed.codes).toEqual(body.items[0]!.codes);
  });

  const invalidBodies: [string, unknown, number, string | undefined, number | undefined][] = [
    ['malformed JSON', '{"items": [', 400, undefined, undefined],
    ['a non-object body', '[1,2]', 400, undefined, undefined],
    ['missing items', {}, 400, 'items', undefined],
    ['empty items', { items: [] }, 400, 'items', 1],
    ['missing description', { items: [{ id: 'a' }] }, 400, 'items[0].description', undefined],
    ['non-string description', { items: [{ description: 42 }] }, 400, 'items[0].description', undefined],
    [
      'whitespace description',
      { items: [{ description: ' \t\n ' }] },
      400,
      'items[0].description',
      undefined,
    ],
    [
      'over-long description',
      { items: [{ description: 'x'.repeat(CLASSIFY_LIMITS.maxDescriptionChars + 1) }] },
      400,
      'items[0].description',
      CLASSIFY_LIMITS.maxDescriptionChars,
    ],
    [
      'too many items',
      { items: Array.from({ length: CLASSIFY_LIMITS.maxItems + 1 }, () => ({ description: 'a' })) },
      400,
      'items',
      CLASSIFY_LIMITS.maxItems,
    ],
    ['an unknown body field', { items: [{ description: 'a' }], foo: 1 }, 400, 'foo', undefined],
    ['an unknown item field', { items: [{ description: 'a', price: 3 }] }, 400, 'items[0].price', undefined],
    ['topK too large', { items: [{ description: 'a' }], topK: 21 }, 400, 'topK', CLASSIFY_LIMITS.maxTopK],
    ['topK zero', { items: [{ description: 'a' }], topK: 0 }, 400, 'topK', CLASSIFY_LIMITS.minTopK],
    ['topK not an integer', { items: [{ description: 'a' }], topK: 2.5 }, 400, 'topK', undefined],
  ];

  it.each(invalidBodies)(
    'rejects %s with a JSON error naming the field and limit',
    async (_name, body, status, field, limit) => {
      const response = await post(body);
      expect(response.status).toBe(status);
      const error = (
        (await response.json()) as { error: { field?: string; limit?: number; message: string } }
      ).error;
      expect(error.field).toBe(field);
      if (limit !== undefined) {
        expect(error.limit).toBe(limit);
        expect(error.message).toContain(String(limit));
      }
    },
  );

  it('answers 415 for a wrong content type and 400 for a bad GET', async () => {
    const response = await post('description=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: { field: string } }).error.field).toBe('content-type');
    const get = await fetch(`${baseUrl}/api/classify?description=%20&code=${KEY}`);
    expect(get.status).toBe(400);
    expect(((await get.json()) as { error: { field: string } }).error.field).toBe('description');
  });

  it('fuzz: thousands of malformed bodies get only 4xx and the host stays alive', async () => {
    const almostValid = fc.record(
      {
        items: fc.oneof(
          fc.array(
            fc.record(
              {
                description: fc.oneof(fc.string(), fc.constant(''), fc.integer(), fc.constant(null)),
                id: fc.anything(),
                context: fc.anything(),
                extra: fc.anything(),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          fc.anything(),
        ),
        topK: fc.anything(),
        explain: fc.anything(),
        junk: fc.anything(),
      },
      { requiredKeys: [] },
    );
    const bodies = fc.oneof(
      fc.string().map((s) => ({ text: s, type: 'application/json' })),
      fc.jsonValue().map((v) => ({ text: JSON.stringify(v), type: 'application/json' })),
      almostValid.map((v) => ({ text: JSON.stringify(v) ?? 'undefined', type: 'application/json' })),
      fc.string().map((s) => ({ text: s, type: 'text/plain' })),
    );
    const samples = fc.sample(bodies, { numRuns: 2000, seed: 42 });
    const statuses = new Map<number, number>();
    for (let start = 0; start < samples.length; start += 50) {
      const results = await Promise.all(
        samples.slice(start, start + 50).map(async (sample) => {
          const response = await post(sample.text, { 'content-type': sample.type });
          await response.arrayBuffer();
          return { status: response.status, sample };
        }),
      );
      for (const { status, sample } of results) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        // A random body may happen to be valid; anything else must be a 4xx.
        if (status !== 200 && (status < 400 || status >= 500))
          throw new Error(`${status} for ${sample.text}`);
      }
    }
    expect([...statuses.keys()].every((s) => s === 200 || (s >= 400 && s < 500))).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(1000);
    expect((await post({ items: [{ description: 'coffee beans' }] })).status).toBe(200);
  });

  it('swaps the model atomically under load: no failed request', async () => {
    const statuses: number[] = [];
    const versions: string[] = [];
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const response = await post({ items: [{ description: 'cotton tshirt' }] });
        statuses.push(response.status);
        versions.push(response.headers.get('x-model-version') ?? '');
        await response.arrayBuffer();
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const models = getPlatformClients().dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    expect(
      await getClassificationService().options.provider.swapTo(blobPackageFiles(models, 'tiny-2/')),
    ).toBe('tiny-2');
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(workers);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(versions[0]).toBe('tiny-1');
    expect(versions[versions.length - 1]).toBe('tiny-2');
    // Once tiny-2 answered, tiny-1 never answers again.
    expect(versions.slice(versions.indexOf('tiny-2')).every((v) => v === 'tiny-2')).toBe(true);
  });

  it('loses no audit record while Cosmos is down: spilled to Blob, written after restart', async () => {
    const service = getClassificationService();
    const audit = service.options.audit;
    await audit.flush();
    const spilledBefore = audit.stats().spilled;
    const port = stack.cosmos.port;
    await stack.cosmos.stop();
    await untilRefused(port);

    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await post({
        items: Array.from({ length: 20 }, (_, j) => ({ description: `laptop ${i} ${j}` })),
      });
      // The response path never waits for Cosmos.
      expect(performance.now() - started).toBeLessThan(1000);
      expect(response.status).toBe(200);
      for (const item of ((await response.json()) as ClassifyResponse).items) ids.push(item.predictionId);
    }
    await audit.flush();
    expect(audit.stats().buffered).toBe(0);
    expect(audit.stats().spilled - spilledBefore).toBeGreaterThanOrEqual(100);

    restartedCosmos = await startCosmosEmulator({
      dataDir: path.join(stack.dataDir, 'cosmos-restarted'),
      port,
    });
    await ensureResources({ blobs: stack.clients.dataBlobs, database: getPlatformClients().database });
    await audit.replaySpilled();
    const spill = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.auditSpill);
    const left: string[] = [];
    for await (const blob of spill.listBlobsFlat({ prefix: 'pending/' })) left.push(blob.name);
    expect(left).toEqual([]);
    const container = getPlatformClients().database.container(COSMOS_CONTAINERS.predictions.id);
    const found = await Promise.all(
      ids.map(async (id) => (await container.item(id, id).read<PredictionRecord>()).resource?.id),
    );
    expect(found.filter((id) => id !== undefined)).toHaveLength(ids.length);
  }, 120_000);

  it('serves an OpenAPI document', async () => {
    const response = await fetch(`${baseUrl}/api/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/classify',
      '/predictions/{id}',
      '/predictions/{id}/replay',
    ]);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { CosmosClient } from '@azure/cosmos';
import { Agent } from 'node:https';
import { health } from '../../../functions/health';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { checkHealth } from '../../../shared/platform/health';
import { RESOURCES } from '../../../shared/platform/resources';
import { COSMOS_EMULATOR_KEY } from '../../../shared/config';
import { startCosmosEmulator } from '../../../local/services/cosmos';
import { livePids } from '../../../local/services/stack';
import { startTestStack, type TestStack } from '../../support/stack';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error: any) {
    if (error.code === 'ESRCH') return false;
    throw error;
  }
}

function healthRequest(): HttpRequest {
  return new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' });
}

describe('local stack: emulators, bootstrap and health', () => {
  let stack: TestStack;
  const targets = () => ({
    blobs: stack.clients.dataBlobs,
    database: stack.clients.database,
    version: stack.config.appVersion,
    timeoutMs: 1500,
  });

  beforeAll(async () => {
    stack = await startTestStack();
  });

  afterAll(async () => {
    // Normally stopped by the last test; this covers a failure before it.
    if (stack !== undefined && stack.pids.some(isRunning)) await stack.stop();
  });

  test('the settings point at both emulators on the ports they chose', () => {
    expect(stack.config.environment).toBe('local');
    expect(stack.config.cosmos.endpoint).toBe(`https://127.0.0.1:${stack.cosmos.port}/`);
    expect(stack.config.cosmos.allowSelfSignedCertificate).toBe(true);
    expect(stack.env.DataStorage).toContain(`127.0.0.1:${stack.azurite.ports.blob}`);
    expect(new Set(stack.pids).size).toBe(2);
    for (const pid of stack.pids) expect(isRunning(pid)).toBe(true);
  });

  test('before bootstrap, health names the missing database and container', async () => {
    const report = await checkHealth(targets());
    expect(report.status).toBe('degraded');
    expect(report.checks.blobStorage.ok).toBe(false);
    expect(report.checks.blobStorage.error).toMatch(/404|ContainerNotFound|not exist/i);
    expect(report.checks.cosmosDb.ok).toBe(false);
  });

  test('ensureResources creates every declared resource, and a second run creates nothing', async () => {
    const first = await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    const expectedCount = RESOURCES.blobContainers.length + RESOURCES.cosmosContainers.length + 1;
    expect(first).toHaveLength(expectedCount);
    expect(first.filter((resource) => !resource.created)).toEqual([]);

    const second = await ensureResources({
      blobs: stack.clients.dataBlobs,
      database: stack.clients.database,
    });
    expect(second).toHaveLength(expectedCount);
    expect(second.filter((resource) => resource.created)).toEqual([]);

    const blobNames: string[] = [];
    for await (const container of stack.clients.dataBlobs.listContainers()) blobNames.push(container.name);
    expect(blobNames.sort()).toEqual([...RESOURCES.blobContainers].sort());

    const { resources: containers } = await stack.clients.database.containers.readAll().fetchAll();
    const partitionKeys = Object.fromEntries(containers.map((c) => [c.id, c.partitionKey?.paths]));
    expect(partitionKeys).toEqual(
      Object.fromEntries(RESOURCES.cosmosContainers.map((spec) => [spec.id, [spec.partitionKey]])),
    );
    expect(partitionKeys['feedback']).toEqual(['/predictionId']);
  });

  test('ensureResources refuses a container whose partition key differs from the declaration', async () => {
    await stack.clients.database.containers.create({ id: 'mismatch', partitionKey: { paths: ['/other'] } });
    await expect(
      ensureResources(
        { blobs: stack.clients.dataBlobs, database: stack.clients.database },
        { blobContainers: [], cosmosContainers: [{ id: 'mismatch', partitionKey: '/id', why: 'test' }] },
      ),
    ).rejects.toThrow(/'mismatch' exists with partition key \["\/other"\].*'\/id'/);
    await stack.clients.database.container('mismatch').delete();
  });

  test('checkHealth is ok with both dependencies reachable', async () => {
    const report = await checkHealth(targets());
    expect(report).toMatchObject({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      checks: { blobStorage: { ok: true }, cosmosDb: { ok: true } },
    });
    expect(report.checks.cosmosDb.error).toBeUndefined();
    expect(report.checks.cosmosDb.latencyMs).toBeLessThan(1500);
  });

  test('GET /api/health answers 200 with the version through the shared config', async () => {
    await stack.useAsProcessEnv();
    const response = await health(healthRequest(), new InvocationContext());
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ status: 'ok', checks: { cosmosDb: { ok: true } } });
  });

  test('with the Cosmos emulator stopped, health names cosmosDb as unreachable within the timeout', async () => {
    const cosmosPid = stack.cosmos.process.pid;
    await stack.cosmos.stop();
    expect(isRunning(cosmosPid)).toBe(false);

    const started = Date.now();
    const report = await checkHealth(targets());
    expect(Date.now() - started).toBeLessThan(1500 + 1000);
    expect(report.status).toBe('degraded');
    expect(report.checks.blobStorage.ok).toBe(true);
    expect(report.checks.cosmosDb.ok).toBe(false);
    expect(report.checks.cosmosDb.error).toEqual(expect.any(String));

    const response = await health(healthRequest(), new InvocationContext());
    expect(response.status).toBe(503);
    expect(response.jsonBody).toMatchObject({ status: 'degraded', checks: { cosmosDb: { ok: false } } });
  });

  test('stop leaves no emulator process behind', async () => {
    await stack.stop();
    for (const pid of stack.pids) expect(isRunning(pid)).toBe(false);
    expect(livePids()).toEqual([]);
  });
});

describe('Cosmos emulator persistence', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-cosmos-persist-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const clientFor = (endpoint: string) =>
    new CosmosClient({ endpoint, key: COSMOS_EMULATOR_KEY, agent: new Agent({ rejectUnauthorized: false }) });

  test('data written before stop is there after a restart on the same folder', async () => {
    const first = await startCosmosEmulator({ dataDir, persist: true });
    const client = clientFor(first.endpoint);
    try {
      const { database } = await client.databases.createIfNotExists({ id: 'persisted' });
      const { container } = await database.containers.createIfNotExists({
        id: 'feedback',
        partitionKey: { paths: ['/predictionId'] },
      });
      await container.items.create({ id: 'f1', predictionId: 'p1', code: '847130' });
    } finally {
      client.dispose();
      await first.stop();
    }
    expect(isRunning(first.process.pid)).toBe(false);

    const second = await startCosmosEmulator({ dataDir, persist: true });
    const again = clientFor(second.endpoint);
    try {
      const container = again.database('persisted').container('feedback');
      const { resource: definition } = await container.read();
      expect(definition?.partitionKey?.paths).toEqual(['/predictionId']);
      const { resource } = await container.item('f1', 'p1').read<{ code: string }>();
      expect(resource?.code).toBe('847130');
    } finally {
      again.dispose();
      await second.stop();
    }
    expect(isRunning(second.process.pid)).toBe(false);
  });
});

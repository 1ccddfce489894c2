import { ensureResources } from '../../../shared/platform/bootstrap';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { uploadModelPackage } from '../../../shared/model-package/package';
import { readModelPackage } from '../../../shared/model-package/package';
import {
  ModelRegistry,
  RegistryConflictError,
  registryModelSource,
  type Actor,
} from '../../../shared/registry';
import { buildTinyPackage } from '../../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../../support/stack';

const SYSTEM: Actor = { kind: 'system', id: 'test' };
const PERSON: Actor = { kind: 'person', id: 'owner@example.com' };

describe('model registry against the Cosmos emulator and Azurite', () => {
  let stack: TestStack;
  let registry: ModelRegistry;

  const uploadVersion = async (modelVersion: string, seed = 7): Promise<string> => {
    const built = buildTinyPackage({ modelVersion, seed });
    await uploadModelPackage(
      stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
      `${modelVersion}/`,
      built.files,
    );
    return built.packageHash;
  };

  beforeAll(async () => {
    stack = await startTestStack();
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    registry = new ModelRegistry({
      models: stack.clients.database.container(COSMOS_CONTAINERS.models.id),
      log: stack.clients.database.container(COSMOS_CONTAINERS.registryLog.id),
      packages: stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('registers a verified package with its hash, metrics and lineage, once', async () => {
    const hash = await uploadVersion('reg-1');
    const record = await registry.register('reg-1', { actor: SYSTEM, reason: 'trained' });
    expect(record).toMatchObject({
      modelVersion: 'reg-1',
      status: 'candidate',
      packagePrefix: 'reg-1/',
      packageHash: hash,
      metrics: { accuracyAt1: 0.97 },
      lineage: { datasetVersion: 'generated-1', codeVersion: 'test', seed: 7, architecture: 'linear' },
    });
    expect(await registry.get('reg-1')).toEqual(record);
    await expect(registry.register('reg-1', { actor: SYSTEM, reason: 'again' })).rejects.toThrow(
      RegistryConflictError,
    );
    const history = await registry.history('reg-1');
    expect(history.map((e) => e.action)).toEqual(['registered']);
    expect(history[0]!.evidence).toMatchObject({ packageHash: hash });
  });

  it('refuses a package whose file does not match its manifest sha256', async () => {
    const built = buildTinyPackage({ modelVersion: 'tampered' });
    const files = new Map(built.files);
    files.set('model.onnx', new Uint8Array([1, 2, 3]));
    await uploadModelPackage(
      stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
      'tampered/',
      files,
    );
    await expect(registry.register('tampered', { actor: SYSTEM, reason: 'trained' })).rejects.toThrow(
      /sha256|bytes/,
    );
    expect(await registry.get('tampered')).toBeUndefined();
  });

  it('moves aliases through recorded transitions and serves the champion through the model source', async () => {
    await uploadVersion('v1', 1);
    await uploadVersion('v2', 2);
    await registry.register('v1', { actor: SYSTEM, reason: 'trained' });
    await registry.register('v2', { actor: SYSTEM, reason: 'trained' });
    await registry.promote('v1', { actor: PERSON, reason: 'first model' });
    await registry.setChallenger('v2', {
      actor: SYSTEM,
      reason: 'passed the gate',
      evidence: { gate: 'ok' },
    });
    await expect(registry.setChallenger('reg-1', { actor: SYSTEM, reason: 'second' })).rejects.toThrow(
      /challenger alias is held by 'v2'/,
    );

    const source = registryModelSource(registry);
    expect((await source.current()).location).toBe('models/v1/');

    const move = await registry.promote('v2', {
      actor: SYSTEM,
      reason: 'challenger better',
      evidence: { logE: 4.2 },
      expectedChampion: 'v1',
    });
    expect(move.champion.status).toBe('champion');
    expect(move.previous?.modelVersion).toBe('v1');
    expect((await registry.get('v1'))?.status).toBe('retired');
    const aliases = await registry.aliases();
    expect(aliases.champion?.modelVersion).toBe('v2');
    expect(aliases.challenger).toBeUndefined();
    const served = await readModelPackage(await source.current());
    expect(served.manifest.modelVersion).toBe('v2');
    expect(served.packageHash).toBe(aliases.champion?.packageHash);

    const v2History = await registry.history('v2');
    expect(v2History.map((e) => e.action)).toEqual([
      'registered',
      'challenger-set',
      'promoted',
      'challenger-cleared',
    ]);
    const promoted = v2History.find((e) => e.action === 'promoted')!;
    expect(promoted).toMatchObject({
      actor: SYSTEM,
      reason: 'challenger better',
      fromStatus: 'challenger',
      toStatus: 'champion',
      alias: 'champion',
      evidence: { logE: 4.2, previousChampion: 'v1' },
    });
    expect((await registry.history('v1')).map((e) => e.action)).toEqual([
      'registered',
      'promoted',
      'retired',
    ]);

    const rolled = await registry.rollback('v2', { actor: PERSON, reason: 'complaints from brokers' });
    expect(rolled.champion.modelVersion).toBe('v1');
    expect((await registry.get('v2'))?.status).toBe('rejected');
    expect((await source.current()).location).toBe('models/v1/');
    const all = await registry.history();
    expect(all.at(-2)).toMatchObject({ modelVersion: 'v1', action: 'rolled-back', actor: PERSON });
    expect(all.at(-1)).toMatchObject({ modelVersion: 'v2', action: 'rejected', toStatus: 'rejected' });
    await expect(registry.promote('v2', { actor: PERSON, reason: 'retry' })).rejects.toThrow(/rejected/);
  });

  it('lets exactly one of many concurrent promotions win', async () => {
    const versions = ['race-a', 'race-b', 'race-c', 'race-d', 'race-e'];
    for (const [i, v] of versions.entries()) {
      await uploadVersion(v, 20 + i);
      await registry.register(v, { actor: SYSTEM, reason: 'trained' });
    }
    const before = (await registry.alias('champion'))!;
    const results = await Promise.allSettled(
      versions.map((v) =>
        registry.promote(v, { actor: SYSTEM, reason: `decider ${v}`, expectedChampion: 'v1' }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(versions.length - 1);
    for (const failure of lost) expect(failure.reason).toBeInstanceOf(RegistryConflictError);
    const after = (await registry.alias('champion'))!;
    expect(after.revision).toBe(before.revision + 1);
    const champions = (await registry.list()).filter((m) => m.status === 'champion');
    expect(champions.map((m) => m.modelVersion)).toEqual([after.modelVersion]);
    const promotions = (await registry.history()).filter(
      (e) => e.action === 'promoted' && e.aliasRevision === after.revision,
    );
    expect(promotions).toHaveLength(1);
  });

  it('requires a reason for every transition', async () => {
    await expect(registry.promote('race-a', { actor: PERSON, reason: '  ' })).rejects.toThrow(/reason/);
  });
});

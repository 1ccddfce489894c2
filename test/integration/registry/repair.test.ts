/**
 * Half-done alias moves: a process dies between the etag-guarded alias write and the status writes or the log
 * entry that follow it. The crash is injected at the storage call; a second registry over the same containers
 * plays the restarted process, and the decision timer's reconciliation completes the move, once.
 */
import type { Container } from '@azure/cosmos';
import { FeedbackService } from '../../../shared/feedback';
import { ExperimentRunner, memoryLifecycleEvents } from '../../../shared/lifecycle';
import { uploadModelPackage } from '../../../shared/model-package/package';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { ModelRegistry, REPAIR_ACTOR, type Actor } from '../../../shared/registry';
import { buildTinyPackage } from '../../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../../support/stack';

const SYSTEM: Actor = { kind: 'system', id: 'test' };
const PERSON: Actor = { kind: 'person', id: 'owner@example.com' };

type Fault = (operation: 'create' | 'replace', id: string) => boolean;

describe('reconciliation of half-done alias moves', () => {
  let stack: TestStack;
  let registry: ModelRegistry;
  let crashing: ModelRegistry;
  let runner: ExperimentRunner;
  let crashingRunner: ExperimentRunner;
  let fault: Fault | undefined;
  const events = memoryLifecycleEvents();

  /** Throws once, at the first write `fault` matches, as if the process died there. */
  const trip = (operation: 'create' | 'replace', id: string): void => {
    if (fault?.(operation, id)) {
      fault = undefined;
      throw new Error(`injected crash before ${operation} of ${id}`);
    }
  };

  /** A method of `target` bound to it; other properties as they are. */
  const bound = (target: object, value: unknown): unknown =>
    typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;

  /** `target` with its `method` tripping the fault first. */
  const guarded = <T extends object>(target: T, method: 'create' | 'replace'): T =>
    new Proxy(target, {
      get(inner, name) {
        const value = bound(inner, Reflect.get(inner, name, inner));
        if (name !== method || typeof value !== 'function') return value;
        const call = value as (body: { id: string }, options?: unknown) => unknown;
        return (body: { id: string }, options?: unknown) => {
          trip(method, body.id);
          return call(body, options);
        };
      },
    });

  const crashable = (container: Container): Container =>
    new Proxy(container, {
      get(target, property) {
        if (property === 'items') return guarded(target.items, 'create');
        if (property === 'item') {
          return (id: string, partitionKey: string) => guarded(target.item(id, partitionKey), 'replace');
        }
        return bound(target, Reflect.get(target, property, target));
      },
    });

  const register = async (version: string): Promise<void> => {
    await uploadModelPackage(
      stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
      `${version}/`,
      buildTinyPackage({ modelVersion: version }).files,
    );
    await registry.register(version, { actor: SYSTEM, reason: 'trained' });
  };

  beforeAll(async () => {
    stack = await startTestStack({ cosmosDatabase: 'repairtest' });
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    const database = stack.clients.database;
    const models = database.container(COSMOS_CONTAINERS.models.id);
    const log = database.container(COSMOS_CONTAINERS.registryLog.id);
    const packages = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    registry = new ModelRegistry({ models, log, packages });
    crashing = new ModelRegistry({ models: crashable(models), log: crashable(log), packages });
    const runnerTargets = {
      experiments: database.container(COSMOS_CONTAINERS.experiments.id),
      predictions: database.container(COSMOS_CONTAINERS.predictions.id),
      registry,
      feedback: new FeedbackService({
        feedback: database.container(COSMOS_CONTAINERS.feedback.id),
        predictions: database.container(COSMOS_CONTAINERS.predictions.id),
      }),
      events,
      repairMinAgeMs: 0,
    };
    runner = new ExperimentRunner(runnerTargets);
    crashingRunner = new ExperimentRunner({
      ...runnerTargets,
      experiments: crashable(runnerTargets.experiments),
    });
    await register('a');
    await register('b');
    await register('c');
    await register('d');
    await registry.promote('a', { actor: SYSTEM, reason: 'first' });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('writes the lost log entry of a promotion once, by system:repair, with the original reason and evidence', async () => {
    fault = (operation, id) => operation === 'create' && id.startsWith('b:champion-');
    await expect(
      crashing.promote('b', {
        actor: PERSON,
        reason: 'approved by the compliance board',
        evidence: { ticket: 'CHG-7' },
      }),
    ).rejects.toThrow(/injected crash/);
    expect((await registry.alias('champion'))?.modelVersion).toBe('b');
    expect((await registry.history('b')).map((e) => e.action)).toEqual(['registered']);

    // Younger than the default one minute: possibly still completing, so left alone.
    expect(await registry.reconcile()).toEqual([]);

    const run = await runner.decideAll();
    expect(run.repairs).toHaveLength(1);
    expect(run.repairs[0]).toMatchObject({ alias: 'champion', revision: 2 });
    expect(run.repairs[0]?.changes).toEqual(['log entry b:champion-2', 'log entry a:champion-2-replaced']);
    const promoted = (await registry.history('b')).find((e) => e.action === 'promoted');
    expect(promoted).toMatchObject({
      id: 'b:champion-2',
      actor: REPAIR_ACTOR,
      fromStatus: 'candidate',
      toStatus: 'champion',
      alias: 'champion',
      aliasRevision: 2,
      evidence: {
        ticket: 'CHG-7',
        previousChampion: 'a',
        repair: { originalActor: PERSON },
      },
    });
    expect(promoted?.reason).toContain('approved by the compliance board');
    expect((await registry.history('a')).at(-1)).toMatchObject({
      action: 'retired',
      actor: REPAIR_ACTOR,
      evidence: { newChampion: 'b' },
    });
    expect((await registry.get('a'))?.status).toBe('retired');
    expect((await registry.get('b'))?.status).toBe('champion');

    const entries = (await registry.history()).length;
    expect((await runner.decideAll()).repairs).toEqual([]);
    expect(await registry.reconcile({ minAgeMs: 0 })).toEqual([]);
    expect(await registry.history()).toHaveLength(entries);
  });

  it('rolls a move forward when its status write was lost, so status and alias agree', async () => {
    fault = (operation, id) => operation === 'replace' && id === 'c';
    await expect(
      crashing.setChallenger('c', { actor: SYSTEM, reason: 'start an experiment' }),
    ).rejects.toThrow(/injected crash/);
    expect((await registry.alias('challenger'))?.modelVersion).toBe('c');
    expect((await registry.get('c'))?.status).toBe('candidate');

    const repairs = await registry.reconcile({ minAgeMs: 0 });
    expect(repairs).toEqual([
      {
        alias: 'challenger',
        revision: 1,
        changes: ["status of 'c': candidate → challenger", 'log entry c:challenger-1'],
      },
    ]);
    expect((await registry.get('c'))?.status).toBe('challenger');
    expect((await registry.history('c')).at(-1)).toMatchObject({
      action: 'challenger-set',
      actor: REPAIR_ACTOR,
      fromStatus: 'candidate',
      toStatus: 'challenger',
      evidence: { repair: { originalActor: SYSTEM } },
    });
    expect(await registry.reconcile({ minAgeMs: 0 })).toEqual([]);
  });

  it('finishes a promotion of the challenger that died before releasing the challenger alias', async () => {
    fault = (operation, id) => operation === 'replace' && id === 'alias:challenger';
    await expect(crashing.promote('c', { actor: SYSTEM, reason: 'won its experiment' })).rejects.toThrow(
      /injected crash/,
    );
    expect((await registry.alias('champion'))?.modelVersion).toBe('c');
    expect((await registry.alias('challenger'))?.modelVersion).toBe('c');

    const repairs = await registry.reconcile({ minAgeMs: 0 });
    expect(repairs.map((r) => r.alias)).toEqual(['challenger']);
    expect(repairs[0]?.changes).toEqual(["cleared the challenger alias held by the champion 'c'"]);
    expect((await registry.alias('challenger'))?.modelVersion).toBeNull();
    expect((await registry.get('c'))?.status).toBe('champion');
    expect((await registry.get('b'))?.status).toBe('retired');
    expect((await registry.history('c')).at(-1)).toMatchObject({
      action: 'challenger-cleared',
      actor: REPAIR_ACTOR,
      toStatus: 'champion',
    });
    expect(await registry.reconcile({ minAgeMs: 0 })).toEqual([]);
  });

  it('opens the experiment whose document was lost after its challenger was set', async () => {
    fault = (operation, id) => operation === 'create' && id === 'exp-d';
    await expect(
      crashingRunner.start({
        challengerVersion: 'd',
        mode: 'split',
        challengerShare: 0.3,
        policy: { minSamplesPerArm: 50 },
        actor: SYSTEM,
        reason: 'gate passed',
      }),
    ).rejects.toThrow(/injected crash/);
    const alias = await registry.alias('challenger');
    expect(alias?.modelVersion).toBe('d');
    expect(await runner.get('exp-d')).toBeUndefined();

    const run = await runner.decideAll();
    expect(run.repairs).toEqual([
      {
        alias: 'challenger',
        revision: alias?.revision,
        changes: ['opened experiment exp-d, which its challenger move had no document for'],
      },
    ]);
    expect((await runner.get('exp-d'))?.record).toMatchObject({
      mode: 'split',
      championVersion: 'c',
      challengerVersion: 'd',
      challengerShare: 0.3,
      policy: { minSamplesPerArm: 50 },
      startedAt: alias?.movedAt,
    });
    // Opened, then checked in the same run like any other running experiment.
    expect(run.outcomes.map((o) => [o.experiment.id, o.applied])).toEqual([['exp-d', 'continue']]);
    expect(events.events.find((e) => e.type === 'experiment.started')).toMatchObject({
      experimentId: 'exp-d',
      details: { repairedFrom: 'challenger alias move' },
    });
    expect((await runner.decideAll()).repairs).toEqual([]);
  });

  it('checks an alias document written before moves carried their transition, and says when it cannot', async () => {
    const models = stack.clients.database.container(COSMOS_CONTAINERS.models.id);
    const original = await registry.alias('champion');
    if (original === undefined) throw new Error('the champion alias is set by the earlier tests');
    const { transition: _dropped, ...legacy } = original;
    try {
      await models.item(original.id, original.id).replace(legacy);
      expect(await registry.reconcile({ minAgeMs: 0 })).toEqual([]);
      await models.item(original.id, original.id).replace({ ...legacy, revision: 99 });
      expect(await registry.reconcile({ minAgeMs: 0 })).toEqual([
        {
          alias: 'champion',
          revision: 99,
          changes: [],
          unverifiable:
            'the move has no log entry and predates recorded transitions, so it cannot be rebuilt',
        },
      ]);
    } finally {
      await models.item(original.id, original.id).replace(original);
    }
  });
});

/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import type { PredictionRecord } from '../../../../shared/audit/record';
import { AuditWriter, type AuditSink, type SpillStore } from '../../../../shared/audit/writer';
import { assignToChallenger } from '../../../../shared/experiments/assignment';
import { shadowPredictionId } from '../../../../shared/feedback/feedback';
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import { ModelProvider, type ModelSource } from '../../../../shared/inference/provider';
import { ClassificationService, unitKeyOf } from '../../../../shared/inference/service';
import { ExperimentTracker, type ServingExperiment } from '../../../../shared/inference/serving';
import { memoryPackageFiles } from '../../../../shared/model-package/package';
import { buildTinyPackage } from '../../../support/inference/tiny-package';

const nomenclature = loadNomenclature();
const champion = memoryPackageFiles(
  'memory:champ',
  buildTinyPackage({ modelVersion: 'champ', seed: 1 }).files,
);
const challenger = memoryPackageFiles(
  'memory:chall',
  buildTinyPackage({ modelVersion: 'chall', seed: 2 }).files,
);
const caller = { callerId: 'test', clientAddress: null, invocationId: 'inv' };

function fixed(files: typeof champion, failing: { now: boolean } = { now: false }): ModelSource {
  return {
    current: async () => {
      if (failing.now) throw new Error('package store down');
      return files;
    },
    byVersion: async () => undefined,
  };
}

function memorySink(): AuditSink & { stored: Map<string, PredictionRecord> } {
  const stored = new Map<string, PredictionRecord>();
  return {
    stored,
    write: async (records) => {
      for (const record of records) stored.set(record.id, record);
    },
    read: async (id) => stored.get(id),
  };
}

const noSpill: SpillStore = {
  put: async () => {
    throw new Error('the memory sink never fails');
  },
  list: async () => [],
  get: async () => [],
  remove: async () => undefined,
};

function experiment(overrides: Partial<ServingExperiment>): ServingExperiment {
  return {
    id: 'exp-chall',
    mode: 'shadow',
    championVersion: 'champ',
    challengerVersion: 'chall',
    challengerShare: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

async function serviceWith(running: ServingExperiment[], failing = { now: false }) {
  const logs: string[] = [];
  const sink = memorySink();
  const experiments = new ExperimentTracker({
    lookup: { running: async () => running },
    challengerSource: () => fixed(challenger, failing),
    nomenclature,
    log: (level, message) => logs.push(`${level} ${message}`),
  });
  await experiments.refresh();
  const service = new ClassificationService({
    provider: new ModelProvider({ source: fixed(champion), nomenclature }),
    audit: new AuditWriter({ sink, spill: noSpill }),
    auditSink: sink,
    experiments,
    log: (level, message) => logs.push(`${level} ${message}`),
  });
  return { service, sink, logs, experiments };
}

const request = (descriptions: string[], contexts: (Record<string, unknown> | undefined)[] = []) => ({
  items: descriptions.map((description, i) => ({ id: undefined, description, context: contexts[i] })),
  topK: 2,
  explain: false,
});

describe('experiments in the classification service', () => {
  it('shadow: answers with the champion first, then records the challenger under <id>:shadow', async () => {
    const { service, sink } = await serviceWith([experiment({})]);
    const response = await service.classify(request(['cotton tshirt', 'roasted coffee']), caller);
    expect(response).toMatchObject({ modelVersion: 'champ', arm: 'champion', experimentId: 'exp-chall' });
    const ids = response.items.map((item) => item.predictionId);
    // The challenger has not started when the caller gets its answer: it runs on a later turn.
    expect(ids.map((id) => service.options.audit.pending(shadowPredictionId(id)))).toEqual([
      undefined,
      undefined,
    ]);
    await service.shadowIdle();
    await service.options.audit.flush();
    for (const id of ids) {
      expect(sink.stored.get(id)).toMatchObject({
        arm: 'champion',
        modelVersion: 'champ',
        experimentId: 'exp-chall',
      });
      expect(sink.stored.get(shadowPredictionId(id))).toMatchObject({
        arm: 'challenger',
        modelVersion: 'chall',
        experimentId: 'exp-chall',
        normalizedText: sink.stored.get(id)?.normalizedText,
      });
    }
    await service.close();
  });

  it('shadow: a failing challenger is logged and costs the caller nothing', async () => {
    const failing = { now: false };
    const { service, sink, logs, experiments } = await serviceWith([experiment({})], failing);
    failing.now = true;
    // A closed provider reloads from its source on the next use, which now fails.
    await experiments.active?.challenger.close();
    const response = await service.classify(request(['laptop notebook']), caller);
    expect(response.items).toHaveLength(1);
    await service.shadowIdle();
    await service.options.audit.flush();
    expect(logs.some((line) => /^error shadow scoring for experiment exp-chall failed/.test(line))).toBe(
      true,
    );
    expect(sink.stored.has(response.items[0]!.predictionId)).toBe(true);
    expect(sink.stored.size).toBe(1);
    await service.close();
  });

  it('split: the caller key decides the arm, stickily, and each item names the model that answered', async () => {
    const split = experiment({ mode: 'split', challengerShare: 0.5 });
    const { service, sink } = await serviceWith([split]);
    const keys = Array.from({ length: 40 }, (_, i) => `S${i}`);
    const contexts = keys.map((key, i) => (i % 2 === 0 ? { shipmentId: key } : { declarantId: key }));
    const first = await service.classify(
      request(
        keys.map(() => 'cotton tshirt'),
        contexts,
      ),
      caller,
    );
    const again = await service.classify(
      request(
        keys.map(() => 'denim jeans'),
        contexts,
      ),
      caller,
    );
    expect(first.arm).toBe('mixed');
    expect(first.modelVersion.split(',').sort()).toEqual(['chall', 'champ']);
    keys.forEach((key, i) => {
      const arm = assignToChallenger(split.id, key, 0.5) ? 'challenger' : 'champion';
      expect(first.items[i]).toMatchObject({ arm, modelVersion: arm === 'challenger' ? 'chall' : 'champ' });
      expect(again.items[i]!.arm).toBe(arm);
    });
    await service.options.audit.flush();
    const record = sink.stored.get(first.items[0]!.predictionId);
    expect(record).toMatchObject({ arm: first.items[0]!.arm, experimentId: split.id });
    await service.shadowIdle();
    expect([...sink.stored.keys()].some((id) => id.endsWith(':shadow'))).toBe(false);
    await service.close();
  });

  it('follows the running experiment: none, one, then none again', async () => {
    const running: ServingExperiment[] = [];
    const tracker = new ExperimentTracker({
      lookup: { running: async () => running },
      challengerSource: () => fixed(challenger),
      nomenclature,
      log: () => undefined,
    });
    await tracker.refresh();
    expect(tracker.active).toBeUndefined();
    running.push(experiment({}));
    await tracker.refresh();
    expect(tracker.active?.experiment.id).toBe('exp-chall');
    expect(tracker.active?.challenger.currentVersion).toBe('chall');
    running.pop();
    await tracker.refresh();
    expect(tracker.active).toBeUndefined();
    await tracker.close();
  });

  it('reads the unit key from shipmentId, then declarantId', () => {
    expect(unitKeyOf({ shipmentId: 'S1', declarantId: 'D1' })).toBe('S1');
    expect(unitKeyOf({ declarantId: 42 })).toBe('42');
    expect(unitKeyOf({ shipmentId: '' })).toBeUndefined();
    expect(unitKeyOf(undefined)).toBeUndefined();
  });
});

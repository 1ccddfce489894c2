/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { loadConfig } from '../../../../shared/config';
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import {
  classifyBatch,
  type BatchClassification,
  type ClassifyOptions,
  type ItemClassification,
} from '../../../../shared/inference/classify';
import { MicroBatcher, type BatchClassifier } from '../../../../shared/inference/micro-batch';
import { loadModelFrom, type ServingModel } from '../../../../shared/inference/model';
import { memoryPackageFiles } from '../../../../shared/model-package/package';
import { buildTinyPackage } from '../../../support/inference/tiny-package';

const options: ClassifyOptions = { topK: 2, explain: false };

/** A classifier that echoes each description and fails a whole run that contains 'bad'. */
function fakeClassifier(): BatchClassifier & { runs: string[][] } {
  const runs: string[][] = [];
  const classify = async (
    _model: ServingModel,
    descriptions: readonly string[],
  ): Promise<BatchClassification> => {
    runs.push([...descriptions]);
    await new Promise((resolve) => setImmediate(resolve));
    if (descriptions.includes('bad')) throw new Error('bad input in this run');
    return {
      items: descriptions.map((text) => ({ normalizedText: text }) as ItemClassification),
      timings: { encodeMs: 0, inferenceMs: descriptions.length, postprocessMs: 0 },
    };
  };
  return Object.assign(classify, { runs });
}

const modelA = { modelVersion: 'a' } as ServingModel;
const modelB = { modelVersion: 'b' } as ServingModel;
const texts = (result: BatchClassification) => result.items.map((item) => item.normalizedText);

describe('MicroBatcher', () => {
  it('shares one run between concurrent requests and hands each its own items in order', async () => {
    const classify = fakeClassifier();
    const batcher = new MicroBatcher({ windowMs: 20, maxItems: 100 }, classify);
    const results = await Promise.all([
      batcher.classify(modelA, ['a1', 'a2'], options),
      batcher.classify(modelA, ['b1'], options),
      batcher.classify(modelA, ['c1', 'c2', 'c3'], options),
    ]);
    expect(results.map(texts)).toEqual([['a1', 'a2'], ['b1'], ['c1', 'c2', 'c3']]);
    expect(classify.runs).toEqual([['a1', 'a2', 'b1', 'c1', 'c2', 'c3']]);
    // Each caller sees the shared run's timings.
    expect(results.map((result) => result.timings.inferenceMs)).toEqual([6, 6, 6]);
    expect(batcher.stats()).toEqual({ runs: 1, requests: 3, items: 6 });
    await batcher.close();
  });

  it('never mixes models or options in one run', async () => {
    const classify = fakeClassifier();
    const batcher = new MicroBatcher({ windowMs: 20, maxItems: 100 }, classify);
    await Promise.all([
      batcher.classify(modelA, ['a'], options),
      batcher.classify(modelB, ['b'], options),
      batcher.classify(modelA, ['explained'], { ...options, explain: true }),
      batcher.classify(modelA, ['a again'], options),
    ]);
    expect(classify.runs.map((run) => run.join(',')).sort()).toEqual(['a,a again', 'b', 'explained']);
    await batcher.close();
  });

  it('runs a batch at once when it reaches maxItems, and runs large requests alone without waiting', async () => {
    const classify = fakeClassifier();
    const batcher = new MicroBatcher({ windowMs: 60_000, maxItems: 3 }, classify);
    const started = performance.now();
    const [first, second, large] = await Promise.all([
      batcher.classify(modelA, ['1', '2'], options),
      batcher.classify(modelA, ['3'], options),
      batcher.classify(modelA, ['4', '5', '6', '7'], options),
    ]);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(texts(first)).toEqual(['1', '2']);
    expect(texts(second)).toEqual(['3']);
    expect(texts(large)).toEqual(['4', '5', '6', '7']);
    expect(classify.runs).toEqual([
      ['1', '2', '3'],
      ['4', '5', '6', '7'],
    ]);
    await batcher.close();
  });

  it('starts a new batch when a request would overflow the current one', async () => {
    const classify = fakeClassifier();
    const batcher = new MicroBatcher({ windowMs: 10, maxItems: 4 }, classify);
    await Promise.all([
      batcher.classify(modelA, ['1', '2'], options),
      batcher.classify(modelA, ['3', '4', '5'], options),
    ]);
    expect(classify.runs).toEqual([
      ['1', '2'],
      ['3', '4', '5'],
    ]);
    await batcher.close();
  });

  it('fails only the request whose items broke the shared run; the others get their answers', async () => {
    const classify = fakeClassifier();
    const batcher = new MicroBatcher({ windowMs: 20, maxItems: 100 }, classify);
    const settled = await Promise.allSettled([
      batcher.classify(modelA, ['good 1'], options),
      batcher.classify(modelA, ['bad'], options),
      batcher.classify(modelA, ['good 2', 'good 3'], options),
    ]);
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(settled[1]).toMatchObject({ reason: new Error('bad input in this run') });
    expect(settled[0].status === 'fulfilled' && texts(settled[0].value)).toEqual(['good 1']);
    expect(settled[2].status === 'fulfilled' && texts(settled[2].value)).toEqual(['good 2', 'good 3']);
    await batcher.close();
  });

  it('close runs the waiting batch at once and waits for it; later requests run alone', async () => {
    const classify = fakeClassifier();
    const batcher = new MicroBatcher({ windowMs: 60_000, maxItems: 100 }, classify);
    let answered = false;
    const waiting = batcher.classify(modelA, ['x', 'y'], options).then((result) => {
      answered = true;
      return result;
    });
    const other = batcher.classify(modelA, ['z'], options);
    await batcher.close();
    expect(answered).toBe(true);
    expect(texts(await waiting)).toEqual(['x', 'y']);
    expect(texts(await other)).toEqual(['z']);
    expect(texts(await batcher.classify(modelA, ['after'], options))).toEqual(['after']);
    expect(classify.runs).toEqual([['x', 'y', 'z'], ['after']]);
  });

  it('with a zero window every request runs alone, at once', async () => {
    const classify = fakeClassifier();
    const batcher = new MicroBatcher({ windowMs: 0, maxItems: 100 }, classify);
    await Promise.all([batcher.classify(modelA, ['1'], options), batcher.classify(modelA, ['2'], options)]);
    expect(classify.runs).toEqual([['1'], ['2']]);
  });

  it('gives each item of a shared run the answer it gets alone (real model, explanations included)', async () => {
    const model = await loadModelFrom(
      memoryPackageFiles('memory:tiny', buildTinyPackage().files),
      loadNomenclature(),
    );
    try {
      const batcher = new MicroBatcher({ windowMs: 20, maxItems: 100 });
      const requests = [
        ['cotton tshirt knitted', 'roasted coffee beans'],
        ['laptop computer'],
        ['steel bolt m8'],
      ];
      const explained = { topK: 3, explain: true };
      const batched = await Promise.all(requests.map((texts) => batcher.classify(model, texts, explained)));
      expect(batcher.stats()).toEqual({ runs: 1, requests: 3, items: 4 });
      for (const [index, texts] of requests.entries()) {
        const alone = await classifyBatch(model, texts, explained);
        expect(batched[index]!.items).toEqual(alone.items);
      }
      await batcher.close();
    } finally {
      await model.release();
    }
  });
});

describe('micro-batch settings', () => {
  it('are off by default, read from the environment, and reject malformed values', () => {
    const settings = (env: Record<string, string>) => {
      const config = loadConfig({ HS_ENV: 'local', ...env });
      return { windowMs: config.classifyMicroBatchMs, maxItems: config.classifyMicroBatchMaxItems };
    };
    expect(settings({})).toEqual({ windowMs: 0, maxItems: 32 });
    expect(settings({ CLASSIFY_MICRO_BATCH_MS: '2.5', CLASSIFY_MICRO_BATCH_MAX_ITEMS: '16' })).toEqual({
      windowMs: 2.5,
      maxItems: 16,
    });
    expect(() => settings({ CLASSIFY_MICRO_BATCH_MS: 'soon' })).toThrow(/CLASSIFY_MICRO_BATCH_MS/);
    expect(() => settings({ CLASSIFY_MICRO_BATCH_MAX_ITEMS: '0' })).toThrow(/CLASSIFY_MICRO_BATCH_MAX_ITEMS/);
  });
});

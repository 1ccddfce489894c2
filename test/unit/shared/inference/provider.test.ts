/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import { classifyBatch } from '../../../../shared/inference/classify';
import { ModelProvider, type ModelSource } from '../../../../shared/inference/provider';
import { memoryPackageFiles, type PackageFiles } from '../../../../shared/model-package/package';
import { buildTinyPackage } from '../../../support/inference/tiny-package';

const v1 = memoryPackageFiles('memory:v1', buildTinyPackage({ modelVersion: 'v1', seed: 1 }).files);
const v2 = memoryPackageFiles('memory:v2', buildTinyPackage({ modelVersion: 'v2', seed: 2 }).files);

function sourceOf(
  current: () => PackageFiles,
  known: Record<string, PackageFiles> = {},
): ModelSource & { loads: number } {
  const source = {
    loads: 0,
    current: async () => {
      source.loads++;
      return current();
    },
    byVersion: async (version: string) => known[version],
  };
  return source;
}

describe('ModelProvider', () => {
  it('loads once for concurrent first requests and reuses the session', async () => {
    const source = sourceOf(() => v1);
    const provider = new ModelProvider({ source, nomenclature: loadNomenclature() });
    const versions = await Promise.all(
      Array.from({ length: 20 }, () => provider.withModel(async (model) => model.modelVersion)),
    );
    expect(new Set(versions)).toEqual(new Set(['v1']));
    expect(source.loads).toBe(1);
    await provider.close();
  });

  it('swaps atomically under load: no request fails, each sees a whole model', async () => {
    let serving = v1;
    const provider = new ModelProvider({ source: sourceOf(() => serving), nomenclature: loadNomenclature() });
    const seen: string[] = [];
    let stop = false;
    const load = async (): Promise<void> => {
      while (!stop) {
        await provider.withModel(async (model) => {
          const { items } = await classifyBatch(model, ['cotton tshirt', 'laptop'], {
            topK: 2,
            explain: true,
          });
          expect(items).toHaveLength(2);
          seen.push(model.modelVersion);
        });
      }
    };
    const workers = Array.from({ length: 4 }, load);
    await new Promise((resolve) => setTimeout(resolve, 100));
    serving = v2;
    expect(await provider.refresh()).toBe('v2');
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await Promise.all(workers);
    expect(seen.length).toBeGreaterThan(20);
    expect(seen[0]).toBe('v1');
    expect(seen[seen.length - 1]).toBe('v2');
    expect(provider.currentVersion).toBe('v2');
    await provider.close();
  });

  it('keeps the old model serving when a new package fails to load', async () => {
    const provider = new ModelProvider({ source: sourceOf(() => v1), nomenclature: loadNomenclature() });
    await provider.withModel(async () => undefined);
    const broken = memoryPackageFiles('memory:broken', new Map());
    await expect(provider.swapTo(broken)).rejects.toThrow(/manifest.json: missing/);
    expect(await provider.withModel(async (model) => model.modelVersion)).toBe('v1');
    await provider.close();
  });

  it('serves an older version for replay from the source', async () => {
    const provider = new ModelProvider({
      source: sourceOf(() => v2, { v1 }),
      nomenclature: loadNomenclature(),
    });
    expect(await provider.withVersion('v1', async (model) => model.modelVersion)).toBe('v1');
    expect(await provider.withVersion('v9', async (model) => model.modelVersion)).toBeUndefined();
    expect(provider.currentVersion).toBe('v2');
    await provider.close();
  });

  it('refreshes only when the package hash changes', async () => {
    let serving = v1;
    const source = sourceOf(() => serving);
    const provider = new ModelProvider({ source, nomenclature: loadNomenclature() });
    await provider.withModel(async () => undefined);
    expect(await provider.refreshIfChanged()).toBe(false);
    serving = v2;
    expect(await provider.refreshIfChanged()).toBe(true);
    expect(provider.currentVersion).toBe('v2');
    expect(await provider.refreshIfChanged()).toBe(false);
    await provider.close();
  });

  it('close waits for a poll in flight, which then neither swaps nor reports after close', async () => {
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let polled: () => void = () => undefined;
    const pollStarted = new Promise<void>((resolve) => (polled = resolve));
    let serving = v1;
    const source: ModelSource = {
      current: async () => {
        if (serving === v2) {
          polled();
          await gate;
        }
        return serving;
      },
      byVersion: async () => undefined,
    };
    const provider = new ModelProvider({ source, nomenclature: loadNomenclature() });
    await provider.withModel(async () => undefined);
    const logs: string[] = [];
    serving = v2;
    provider.startPolling(5, (message) => logs.push(message));
    await pollStarted;
    const closing = provider.close();
    openGate();
    await closing;
    const atClose = [...logs];
    expect(atClose).toEqual([expect.stringMatching(/closed while v2 loaded/)]);
    expect(provider.currentVersion).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(logs).toEqual(atClose);
  });
});

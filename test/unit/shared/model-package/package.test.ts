import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MANIFEST_FILE, ModelPackageError, parseManifest } from '../../../../shared/model-package/manifest';
import {
  folderPackageFiles,
  memoryPackageFiles,
  readModelPackage,
  sha256Hex,
} from '../../../../shared/model-package/package';
import { buildTinyPackage } from '../../../support/inference/tiny-package';

const tiny = buildTinyPackage();
const manifestJson = (): Record<string, unknown> =>
  JSON.parse(Buffer.from(tiny.files.get(MANIFEST_FILE)!).toString('utf8')) as Record<string, unknown>;

describe('model package format', () => {
  it('round-trips through a folder with every hash verified', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'hs-pkg-'));
    try {
      for (const [name, bytes] of tiny.files) writeFileSync(join(folder, name), bytes);
      const pkg = await readModelPackage(folderPackageFiles(folder));
      expect(pkg.manifest.modelVersion).toBe('tiny-1');
      expect(pkg.manifest.formatVersion).toBe(1);
      expect(pkg.packageHash).toBe(tiny.packageHash);
      expect(pkg.packageHash).toBe(sha256Hex(tiny.files.get(MANIFEST_FILE)!));
      expect(pkg.manifest.files['model.onnx']!.sha256).toBe(sha256Hex(tiny.files.get('model.onnx')!));
      expect(pkg.files.get('model.onnx')).toEqual(Buffer.from(tiny.files.get('model.onnx')!));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('refuses a package whose graph does not match its hash', async () => {
    const files = new Map(tiny.files);
    const graph = Uint8Array.from(files.get('model.onnx')!);
    graph[graph.length - 1] = graph[graph.length - 1]! ^ 1;
    files.set('model.onnx', graph);
    await expect(readModelPackage(memoryPackageFiles('memory:bad', files))).rejects.toThrow(
      /model\.onnx: sha256 [0-9a-f]{64} does not match the manifest/,
    );
    files.set('model.onnx', graph.subarray(1));
    await expect(readModelPackage(memoryPackageFiles('memory:bad', files))).rejects.toThrow(
      /bytes, the manifest lists/,
    );
  });

  it('names every problem of a bad manifest at once', () => {
    const bad = {
      ...manifestJson(),
      formatVersion: 2,
      modelVersion: 'has space',
      temperature: 0,
      labels: { level: 6, codes: ['610910', '610910', '12'] },
      thresholds: {
        auto: 1.5,
        autoPrecision: 0.98,
        heading: 0.9,
        headingPrecision: 0.99,
        targetPrecision: 0.98,
      },
      testDataset: { version: 'test-file' },
    };
    let error: unknown;
    try {
      parseManifest(bad, 'memory:bad');
    } catch (caught: unknown) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ModelPackageError);
    const problems = (error as ModelPackageError).problems.join('\n');
    expect(problems).toMatch(/formatVersion/);
    expect(problems).toMatch(/modelVersion: 'has space'/);
    expect(problems).toMatch(/temperature/);
    expect(problems).toMatch(/labels.codes: contains duplicates/);
    expect(problems).toMatch(/not 6 digits, e.g. '12'/);
    expect(problems).toMatch(/auto: expected a number in \[0, 1\]/);
    expect(problems).toMatch(/contentHash: expected a content hash/);
  });

  it('requires the graph to be listed and a manifest to be JSON', async () => {
    expect(() => parseManifest({ ...manifestJson(), files: {} }, 'x')).toThrow(
      /onnx.file: 'model.onnx' is not listed/,
    );
    const files = new Map(tiny.files);
    files.set(MANIFEST_FILE, Buffer.from('{not json'));
    await expect(readModelPackage(memoryPackageFiles('memory:x', files))).rejects.toThrow(
      /manifest.json is not JSON/,
    );
  });
});

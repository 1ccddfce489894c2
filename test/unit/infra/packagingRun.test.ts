import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { planPackage } from '../../../infra/packaging/plan';
import { writeDeterministicZip } from '../../../infra/packaging/zip';
import { readZipDirectory, readZipEntry } from '../../../infra/packaging/zipDirectory';

/**
 * The packager on this repository's real lock file and node_modules: the production dependencies must load
 * from the unpacked zip alone, ONNX Runtime's Linux x64 binding included. The app's own dist/ is left out
 * (`appFolders: []`) so the test needs no build; `npm run package` output was load-checked by hand the same way.
 */
const projectRoot = resolve(__dirname, '..', '..', '..');
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

describe('packaging the real production dependencies', () => {
  const folder = mkdtempSync(join(tmpdir(), 'packaging-run-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  (onLinuxX64 ? it : it.skip)(
    'unpacks into a tree where every dependency and the ONNX Runtime binding load',
    async () => {
      const plan = planPackage({ projectRoot, appFolders: [] });
      const paths = plan.files.map((file) => file.archivePath);
      expect(paths).toContain('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node');
      expect(paths.filter((path) => /onnxruntime-node\/bin\/napi-v6\/(?!linux\/x64\/)/.test(path))).toEqual(
        [],
      );
      expect(paths.some((path) => path.startsWith('node_modules/typescript/'))).toBe(false);
      expect(paths.some((path) => path.startsWith('node_modules/@pulumi/'))).toBe(false);

      // Why: level 1 keeps the test fast; the entries and their bytes do not depend on the level.
      const written = await writeDeterministicZip(plan.files, join(folder, 'package.zip'), {
        compressionLevel: 1,
      });
      const zip = readFileSync(written.path);
      const unpacked = join(folder, 'unpacked');
      for (const entry of readZipDirectory(zip)) {
        const target = join(unpacked, entry.name);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, readZipEntry(zip, entry));
        chmodSync(target, entry.unixMode & 0o777);
      }

      const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      const check = [
        `for (const name of ${JSON.stringify(Object.keys(manifest.dependencies))}) require(name);`,
        "const ort = require('onnxruntime-node');",
        "if (typeof ort.InferenceSession.create !== 'function') throw new Error('no InferenceSession');",
        "console.log(require.resolve('onnxruntime-node'));",
      ].join('\n');
      const result = spawnSync(process.execPath, ['-e', check], { cwd: unpacked, encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout.trim()).toBe(join(unpacked, 'node_modules/onnxruntime-node/dist/index.js'));
    },
    120_000,
  );
});

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseCliArguments } from '../../../infra/packaging/cli';
import { productionPackageFolders, type PackageLock } from '../../../infra/packaging/lockfile';
import {
  deployedManifest,
  isAppDataFile,
  planPackage,
  type PackagePlan,
} from '../../../infra/packaging/plan';
import { pruneRuleFor } from '../../../infra/packaging/prune';
import { contributorOf, contributors, formatSummary } from '../../../infra/packaging/report';
import { writeDeterministicZip } from '../../../infra/packaging/zip';
import { readZipDirectory, readZipEntry } from '../../../infra/packaging/zipDirectory';

const repoRoot = resolve(__dirname, '..', '..', '..');

describe('productionPackageFolders', () => {
  const lock: PackageLock = {
    lockfileVersion: 3,
    packages: {
      '': { version: '1.0.0' },
      'node_modules/z-prod': { version: '1.0.0' },
      'node_modules/@scope/a-prod': { version: '1.0.0' },
      'node_modules/dev-only': { version: '1.0.0', dev: true },
      'node_modules/z-prod/node_modules/nested': { version: '2.0.0' },
      'node_modules/z-prod/node_modules/nested-dev': { version: '2.0.0', dev: true },
      'node_modules/fsevents': { version: '2.3.3', optional: true },
      'node_modules/dev-or-optional': { version: '1.0.0', devOptional: true },
    },
  };
  const installedExcept =
    (...missing: string[]) =>
    (folder: string) =>
      !missing.includes(folder);

  it('keeps production packages, nested ones included, sorted, and drops development-only ones', () => {
    expect(productionPackageFolders(lock, installedExcept('node_modules/fsevents'))).toEqual([
      'node_modules/@scope/a-prod',
      'node_modules/dev-or-optional',
      'node_modules/z-prod',
      'node_modules/z-prod/node_modules/nested',
    ]);
  });

  it('skips optional packages npm did not install on this platform', () => {
    const folders = productionPackageFolders(
      lock,
      installedExcept('node_modules/fsevents', 'node_modules/dev-or-optional'),
    );
    expect(folders).not.toContain('node_modules/fsevents');
    expect(folders).not.toContain('node_modules/dev-or-optional');
  });

  it('refuses a missing required package rather than shipping without it', () => {
    expect(() =>
      productionPackageFolders(lock, installedExcept('node_modules/z-prod/node_modules/nested')),
    ).toThrow(/not installed.*node_modules\/z-prod\/node_modules\/nested/);
  });

  it('refuses linked and workspace packages', () => {
    expect(() =>
      productionPackageFolders({ packages: { 'node_modules/linked': { link: true } } }, () => true),
    ).toThrow(/link/);
    expect(() => productionPackageFolders({ packages: { 'packages/app': {} } }, () => true)).toThrow(
      /workspaces/,
    );
  });
});

describe('pruneRuleFor', () => {
  it.each([
    ['node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node', undefined],
    ['node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1', undefined],
    ['node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1', 'other-platform-binaries'],
    [
      'node_modules/onnxruntime-node/bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib',
      'other-platform-binaries',
    ],
    ['node_modules/onnxruntime-node/bin/napi-v6/win32/x64/onnxruntime.dll', 'other-platform-binaries'],
    ['node_modules/a/node_modules/onnxruntime-node/bin/napi-v6/win32/x64/x.dll', 'other-platform-binaries'],
    ['node_modules/onnxruntime-node/dist/binding.js', undefined],
    ['node_modules/@azure/cosmos/dist/index.d.ts', 'type-declarations'],
    ['node_modules/x/index.d.mts', 'type-declarations'],
    ['node_modules/x/index.js.map', 'source-maps'],
    ['node_modules/x/src/index.ts', 'typescript-sources'],
    ['node_modules/x/README.md', 'markdown-docs'],
    ['node_modules/x/docs/guide.markdown', 'markdown-docs'],
    ['node_modules/x/LICENSE.md', undefined],
    ['node_modules/x/LICENSE', undefined],
    ['node_modules/x/index.js', undefined],
    ['node_modules/x/package.json', undefined],
  ])('%s -> %s', (path, rule) => {
    expect(pruneRuleFor(path)).toBe(rule);
  });

  it('keeps the binaries of the platform it targets', () => {
    const armBinary = 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1';
    expect(pruneRuleFor(armBinary, { platform: 'linux', arch: 'arm64' })).toBeUndefined();
  });
});

describe('deployedManifest', () => {
  it('keeps what the host and the app read and drops scripts and devDependencies', () => {
    const deployed = deployedManifest({
      name: 'app',
      version: '1.2.3',
      main: 'dist/functions/*.js',
      engines: { node: '>=20' },
      dependencies: { a: '^1.0.0' },
      devDependencies: { jest: '^30.0.0' },
      scripts: { test: 'jest' },
    });
    expect(deployed).toEqual({
      name: 'app',
      version: '1.2.3',
      main: 'dist/functions/*.js',
      engines: { node: '>=20' },
      dependencies: { a: '^1.0.0' },
    });
  });

  it('refuses a manifest without main, which the Node worker needs to find the functions', () => {
    expect(() => deployedManifest({ name: 'app', version: '1.0.0' })).toThrow(/main/);
  });

  it('ships data files of the app folders but not TypeScript or markdown', () => {
    expect(isAppDataFile('hs/hs2022-nomenclature.csv')).toBe(true);
    expect(isAppDataFile('hs/README.md')).toBe(false);
    expect(isAppDataFile('hs/nomenclature.ts')).toBe(false);
  });
});

/** A small project on disk: app sources, a build with stale output, and a node_modules tree with a lock file. */
function fakeProject(): string {
  const root = mkdtempSync(join(tmpdir(), 'packaging-'));
  const write = (path: string, contents: string | Buffer = `// ${path}\n`): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), contents);
  };
  write('host.json', '{"version":"2.0"}\n');
  write(
    'package.json',
    JSON.stringify({
      name: 'fake-app',
      version: '0.1.0',
      main: 'dist/functions/*.js',
      scripts: { build: 'tsc' },
      dependencies: { 'prod-a': '^1.0.0', 'onnxruntime-node': '^1.0.0' },
      devDependencies: { 'dev-b': '^1.0.0' },
    }),
  );
  write(
    'package-lock.json',
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'fake-app' },
        'node_modules/prod-a': { version: '1.0.0' },
        'node_modules/prod-a/node_modules/nested-c': { version: '1.0.0' },
        'node_modules/prod-a/node_modules/nested-dev': { version: '1.0.0', dev: true },
        'node_modules/dev-b': { version: '1.0.0', dev: true },
        'node_modules/onnxruntime-node': { version: '1.0.0' },
        'node_modules/fsevents': { version: '1.0.0', optional: true },
      },
    }),
  );
  write('functions/index.ts');
  write('shared/util.ts');
  write('shared/data.csv', 'a,b\n1,2\n');
  write('shared/README.md');
  write('training/train.ts');
  write('dist/functions/index.js');
  write('dist/functions/index.js.map', '{}');
  write('dist/shared/util.js');
  write('dist/shared/deleted-module.js');
  write('dist/training/train.js');
  write('dist/bench/bench.js');
  write('dist/local/start.js');
  write('node_modules/prod-a/package.json', '{"name":"prod-a"}');
  write('node_modules/prod-a/index.js');
  write('node_modules/prod-a/index.d.ts');
  write('node_modules/prod-a/index.js.map', '{}');
  write('node_modules/prod-a/README.md');
  write('node_modules/prod-a/LICENSE');
  write('node_modules/prod-a/src/index.ts');
  write('node_modules/prod-a/bin/cli.js', '#!/usr/bin/env node\n');
  chmodSync(join(root, 'node_modules/prod-a/bin/cli.js'), 0o755);
  write('node_modules/prod-a/node_modules/nested-c/index.js');
  write('node_modules/prod-a/node_modules/nested-dev/index.js');
  write('node_modules/dev-b/index.js');
  write('node_modules/onnxruntime-node/dist/binding.js');
  for (const platform of ['linux/x64', 'linux/arm64', 'darwin/arm64', 'win32/x64']) {
    write(
      `node_modules/onnxruntime-node/bin/napi-v6/${platform}/onnxruntime_binding.node`,
      Buffer.alloc(1000, 7),
    );
  }
  return root;
}

describe('planPackage', () => {
  let root: string;
  let plan: PackagePlan;

  beforeAll(() => {
    root = fakeProject();
    plan = planPackage({ projectRoot: root });
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('stages the host files, the built app, its data and the pruned production dependencies, sorted', () => {
    expect(plan.files.map((file) => file.archivePath)).toEqual([
      'dist/functions/index.js',
      'dist/functions/index.js.map',
      'dist/shared/util.js',
      'dist/training/train.js',
      'host.json',
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      'node_modules/onnxruntime-node/dist/binding.js',
      'node_modules/prod-a/LICENSE',
      'node_modules/prod-a/bin/cli.js',
      'node_modules/prod-a/index.js',
      'node_modules/prod-a/node_modules/nested-c/index.js',
      'node_modules/prod-a/package.json',
      'package.json',
      'shared/data.csv',
    ]);
  });

  it('tallies what each prune rule left out', () => {
    expect(plan.pruned).toEqual([
      { rule: 'other-platform-binaries', files: 3, bytes: 3000 },
      { rule: 'typescript-sources', files: 1, bytes: '// node_modules/prod-a/src/index.ts\n'.length },
      { rule: 'type-declarations', files: 1, bytes: '// node_modules/prod-a/index.d.ts\n'.length },
      { rule: 'markdown-docs', files: 1, bytes: '// node_modules/prod-a/README.md\n'.length },
      { rule: 'source-maps', files: 1, bytes: 2 },
    ]);
  });

  it('writes a package.json without scripts or devDependencies', () => {
    const manifest = plan.files.find((file) => file.archivePath === 'package.json');
    if (manifest?.source.kind !== 'contents') throw new Error('package.json is not generated');
    expect(JSON.parse(manifest.source.contents.toString('utf8'))).toEqual({
      name: 'fake-app',
      version: '0.1.0',
      main: 'dist/functions/*.js',
      dependencies: { 'prod-a': '^1.0.0', 'onnxruntime-node': '^1.0.0' },
    });
  });

  it('keeps the executable bit of executables only', () => {
    const executables = plan.files.filter((file) => file.executable).map((file) => file.archivePath);
    expect(executables).toEqual(['node_modules/prod-a/bin/cli.js']);
  });

  it('stops when a module has no build output', () => {
    const stale = fakeProject();
    try {
      writeFileSync(join(stale, 'shared/new-module.ts'), 'export {};\n');
      expect(() => planPackage({ projectRoot: stale })).toThrow(
        /missing for shared\/new-module\.ts.*npm run build/,
      );
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  });
});

describe('writeDeterministicZip', () => {
  let root: string;
  let plan: PackagePlan;

  beforeAll(() => {
    root = fakeProject();
    plan = planPackage({ projectRoot: root });
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives the same bytes for the same tree, whatever the files’ timestamps', async () => {
    const first = await writeDeterministicZip(plan.files, join(root, 'first.zip'));
    writeFileSync(join(root, 'shared/data.csv'), 'a,b\n1,2\n');
    const again = await writeDeterministicZip(
      planPackage({ projectRoot: root }).files,
      join(root, 'again.zip'),
    );
    expect(again.sha256).toBe(first.sha256);
    expect(readFileSync(join(root, 'again.zip')).equals(readFileSync(join(root, 'first.zip')))).toBe(true);
    expect(createHash('sha256').update(readFileSync(first.path)).digest('hex')).toBe(first.sha256);
    expect(first.bytes).toBe(readFileSync(first.path).length);
  });

  it('gives the same bytes in every time zone', () => {
    // Why: zip timestamps are local time, and jest's process.env does not reach the runtime's time zone, so each
    // zone gets its own process.
    const zipIn = (timeZone: string): string => {
      const program = [
        `const { planPackage } = require(${JSON.stringify(join(repoRoot, 'infra/packaging/plan.ts'))});`,
        `const { writeDeterministicZip } = require(${JSON.stringify(join(repoRoot, 'infra/packaging/zip.ts'))});`,
        `const files = planPackage({ projectRoot: ${JSON.stringify(root)} }).files;`,
        `writeDeterministicZip(files, ${JSON.stringify(join(root, `${timeZone.replace('/', '-')}.zip`))})`,
        '  .then((zip) => console.log(new Date(1980, 0, 1).getTimezoneOffset(), zip.sha256));',
      ].join('\n');
      const result = spawnSync(
        process.execPath,
        ['-r', join(repoRoot, 'bench/swc-register.js'), '-e', program],
        {
          cwd: repoRoot,
          env: { ...process.env, TZ: timeZone },
          encoding: 'utf8',
        },
      );
      expect(result.stderr).toBe('');
      return result.stdout.trim();
    };
    const [tokyoOffset, tokyo] = zipIn('Asia/Tokyo').split(' ');
    const [losAngelesOffset, losAngeles] = zipIn('America/Los_Angeles').split(' ');
    expect([tokyoOffset, losAngelesOffset]).toEqual(['-540', '480']);
    expect(losAngeles).toMatch(/^[0-9a-f]{64}$/);
    expect(losAngeles).toBe(tokyo);
  });

  it('changes when a file changes', async () => {
    const before = await writeDeterministicZip(plan.files, join(root, 'before.zip'));
    writeFileSync(join(root, 'shared/data.csv'), 'a,b\n1,3\n');
    const after = await writeDeterministicZip(
      planPackage({ projectRoot: root }).files,
      join(root, 'after.zip'),
    );
    expect(after.sha256).not.toBe(before.sha256);
  });

  it('records sorted entries, one fixed DOS time, normalised modes and the exact contents', async () => {
    const written = await writeDeterministicZip(plan.files, join(root, 'listing.zip'));
    const zip = readFileSync(written.path);
    const entries = readZipDirectory(zip);
    expect(entries.map((entry) => entry.name)).toEqual(plan.files.map((file) => file.archivePath));
    for (const entry of entries) {
      expect({ name: entry.name, dosDate: entry.dosDate, dosTime: entry.dosTime }).toEqual({
        name: entry.name,
        dosDate: (0 << 9) | (1 << 5) | 1,
        dosTime: 0,
      });
      expect(entry.extraFieldLength).toBe(0);
      const expectedMode = entry.name === 'node_modules/prod-a/bin/cli.js' ? 0o100755 : 0o100644;
      expect(entry.unixMode).toBe(expectedMode);
    }
    for (const file of plan.files) {
      const entry = entries.find((candidate) => candidate.name === file.archivePath)!;
      const expected = file.source.kind === 'file' ? readFileSync(file.source.path) : file.source.contents;
      expect(readZipEntry(zip, entry).equals(expected)).toBe(true);
    }
  });

  it('leaves no package behind when a source file vanished', async () => {
    const output = join(root, 'broken.zip');
    const missing = { ...plan.files[0]!, source: { kind: 'file' as const, path: join(root, 'gone.js') } };
    await expect(writeDeterministicZip([missing], output)).rejects.toThrow(/ENOENT/);
    expect(() => readFileSync(output)).toThrow(/ENOENT/);
    expect(() => readFileSync(`${output}.partial`)).toThrow(/ENOENT/);
  });
});

describe('report', () => {
  it('attributes entries to their innermost package or top-level app path', () => {
    expect(contributorOf('node_modules/@azure/cosmos/dist/index.js')).toBe('node_modules/@azure/cosmos');
    expect(contributorOf('node_modules/a/node_modules/b/lib/x.js')).toBe('node_modules/a/node_modules/b');
    expect(contributorOf('node_modules/a/lib/x.js')).toBe('node_modules/a');
    expect(contributorOf('dist/functions/index.js')).toBe('dist');
    expect(contributorOf('host.json')).toBe('host.json');
  });

  it('ranks contributors by their size in the zip and prints the totals', () => {
    const entry = (name: string, compressedSize: number) => ({
      name,
      method: 8,
      compressedSize,
      uncompressedSize: compressedSize * 2,
      crc32: 0,
      dosDate: 33,
      dosTime: 0,
      unixMode: 0o100644,
      extraFieldLength: 0,
      localHeaderOffset: 0,
    });
    const entries = [
      entry('dist/a.js', 10),
      entry('node_modules/big/a.bin', 3_000_000),
      entry('dist/b.js', 5),
    ];
    expect(contributors(entries).map((contributor) => [contributor.name, contributor.files])).toEqual([
      ['node_modules/big', 1],
      ['dist', 2],
    ]);
    const lines = formatSummary({
      path: 'out.zip',
      bytes: 3_100_000,
      sha256: 'f'.repeat(64),
      entries,
      pruned: [{ rule: 'source-maps', files: 4, bytes: 2_000_000 }],
      top: 5,
    });
    expect(lines[1]).toContain('3.1 MB (3100000 bytes), 3 files, 6.0 MB unpacked');
    expect(lines.join('\n')).toMatch(/3\.0 MB\s+6\.0 MB\s+node_modules\/big \(1 files\)/);
    expect(lines.join('\n')).toMatch(/2\.0 MB\s+source-maps \(4 files\)/);
  });
});

describe('parseCliArguments', () => {
  it('defaults to building and writing dist-package/hs-mlops.zip', () => {
    expect(parseCliArguments([])).toEqual({ out: 'dist-package/hs-mlops.zip', build: true });
    expect(parseCliArguments(['--no-build', '--out', 'x.zip'])).toEqual({ out: 'x.zip', build: false });
  });

  it('rejects unknown arguments and a missing --out value', () => {
    expect(() => parseCliArguments(['--fast'])).toThrow(/unknown argument/);
    expect(() => parseCliArguments(['--out'])).toThrow(/--out needs a path/);
  });
});

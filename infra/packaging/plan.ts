/**
 * Decides what goes into the deployment zip: the Functions host's files at the root (host.json, a trimmed
 * package.json), the compiled app, the data files the app reads at run time, and the production dependencies
 * minus what `pruneRuleFor` drops. Nothing is copied: the plan names each file's source, and the zip writer
 * reads them in place.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compareBytes, parsePackageLock, productionPackageFolders } from './lockfile';
import { functionAppPlatform, pruneRuleFor, type PruneRule, type TargetPlatform } from './prune';

/** Where a staged file's bytes come from. */
export type PackageFileSource =
  { readonly kind: 'file'; readonly path: string } | { readonly kind: 'contents'; readonly contents: Buffer };

/** One file of the deployment zip. */
export interface PackageFile {
  /** Path inside the zip, relative to the app root, with forward slashes. */
  readonly archivePath: string;
  readonly source: PackageFileSource;
  /** Uncompressed size in bytes. */
  readonly size: number;
  /** Whether the source has an executable bit; the zip records 0755 for these and 0644 for the rest. */
  readonly executable: boolean;
}

/** Files one prune rule left out, for the packager's report. */
export interface PrunedFiles {
  readonly rule: PruneRule;
  readonly files: number;
  readonly bytes: number;
}

export interface PackagePlan {
  /** Sorted by `archivePath` in code-unit order, so the same tree always gives the same zip. */
  readonly files: readonly PackageFile[];
  readonly pruned: readonly PrunedFiles[];
}

export interface PackagePlanOptions {
  /** Project root: host.json, package.json, package-lock.json, the build output and node_modules are read here. */
  readonly projectRoot: string;
  /**
   * Source folders the deployed app consists of: their compiled JavaScript (and its source maps) from
   * `<outDir>/<folder>` and their data files (anything but TypeScript and markdown) from `<folder>`. Default
   * `['functions', 'shared', 'training']`; bench/ and local/ are development tools and stay out.
   */
  readonly appFolders?: readonly string[];
  /** Build output folder, relative to `projectRoot`. Default `dist` (tsconfig.build.json's outDir). */
  readonly outDir?: string;
  /** Platform the package runs on. Default linux/x64 (Flex Consumption). */
  readonly target?: TargetPlatform;
}

const defaultAppFolders = ['functions', 'shared', 'training'] as const;

/** package.json fields the deployed app needs; scripts and devDependencies mean nothing on a worker. */
const deployedManifestFields = [
  'name',
  'version',
  'description',
  'private',
  'license',
  'type',
  'main',
  'engines',
  'dependencies',
] as const;

/**
 * The package.json the Function App receives: `main` tells the Node worker which files register functions,
 * `name` and `version` are read by the app (`packageVersion`, `codeVersion`); everything else is dropped.
 */
export function deployedManifest(manifest: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (typeof manifest.main !== 'string')
    throw new Error("package.json has no 'main': the host could not find functions");
  const deployed: Record<string, unknown> = {};
  for (const field of deployedManifestFields) {
    if (manifest[field] !== undefined) deployed[field] = manifest[field];
  }
  return deployed;
}

function readManifest(path: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${path} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** A TypeScript module's compiled output kept in the package: the JavaScript and its source map. */
const compiledOutput = /^(.*)\.js(?:\.map)?$/;
const typescriptFile = /\.[cm]?ts$/;
const markdownFile = /\.(?:md|markdown)$/i;

/** Whether a file of an app source folder is shipped as data (a CSV the app reads, for example). */
export function isAppDataFile(path: string): boolean {
  return !typescriptFile.test(path) && !markdownFile.test(path);
}

interface WalkedFile {
  /** Path relative to the walk's root folder, forward slashes. */
  readonly relativePath: string;
  readonly absolutePath: string;
  readonly size: number;
  readonly executable: boolean;
}

/**
 * Every file under `root`, sorted. Folders named node_modules are skipped, because nested packages are listed
 * (and filtered for production) on their own. A symlinked file is followed; a symlinked folder is refused, since
 * following it could pull in files outside the package or loop.
 */
function walkFiles(root: string): WalkedFile[] {
  const found: WalkedFile[] = [];
  const visit = (folder: string, prefix: string): void => {
    const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => compareBytes(a.name, b.name));
    for (const entry of entries) {
      const absolutePath = join(folder, entry.name);
      const relativePath = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      const stats = entry.isSymbolicLink() ? statSync(absolutePath) : lstatSync(absolutePath);
      if (stats.isDirectory()) {
        if (entry.isSymbolicLink()) throw new Error(`symlinked folder in a staged package: ${absolutePath}`);
        if (entry.name !== 'node_modules') visit(absolutePath, relativePath);
      } else if (stats.isFile()) {
        found.push({ relativePath, absolutePath, size: stats.size, executable: (stats.mode & 0o111) !== 0 });
      } else {
        throw new Error(`not a regular file: ${absolutePath}`);
      }
    }
  };
  visit(root, '');
  return found;
}

function fromDisk(archivePath: string, file: WalkedFile): PackageFile {
  return {
    archivePath,
    source: { kind: 'file', path: file.absolutePath },
    size: file.size,
    executable: file.executable,
  };
}

function fromContents(archivePath: string, contents: Buffer): PackageFile {
  return { archivePath, source: { kind: 'contents', contents }, size: contents.length, executable: false };
}

/**
 * Compiled output of one app folder. A .js file is kept only when its .ts source still exists, so output of a
 * deleted module (which `tsc` never removes from dist/) cannot ship; a source without output means the build is
 * stale or failed, and stops the packager.
 */
function compiledFiles(projectRoot: string, outDir: string, folder: string): PackageFile[] {
  const sourceRoot = join(projectRoot, folder);
  const buildRoot = join(projectRoot, outDir, folder);
  if (!existsSync(buildRoot)) throw new Error(`no build output at ${buildRoot}: run npm run build`);
  const sources = new Set(
    walkFiles(sourceRoot)
      .map((file) => file.relativePath)
      .filter((path) => typescriptFile.test(path) && !path.endsWith('.d.ts')),
  );
  const files: PackageFile[] = [];
  const built = new Set<string>();
  for (const file of walkFiles(buildRoot)) {
    const match = compiledOutput.exec(file.relativePath);
    if (match === null || !sources.has(`${match[1]}.ts`)) continue;
    built.add(`${match[1]}.ts`);
    files.push(fromDisk(`${outDir}/${folder}/${file.relativePath}`, file));
  }
  const unbuilt = [...sources].filter((source) => !built.has(source));
  if (unbuilt.length > 0) {
    throw new Error(
      `build output is missing for ${folder}/${unbuilt.join(`, ${folder}/`)}: run npm run build`,
    );
  }
  return files;
}

/** Plans the deployment zip of the project at `options.projectRoot`. */
export function planPackage(options: PackagePlanOptions): PackagePlan {
  const { projectRoot } = options;
  const outDir = options.outDir ?? 'dist';
  const target = options.target ?? functionAppPlatform;
  const files: PackageFile[] = [];

  const hostJson = join(projectRoot, 'host.json');
  if (!existsSync(hostJson)) throw new Error(`no host.json in ${projectRoot}`);
  files.push({
    archivePath: 'host.json',
    source: { kind: 'file', path: hostJson },
    size: statSync(hostJson).size,
    executable: false,
  });
  const manifest = deployedManifest(readManifest(join(projectRoot, 'package.json')));
  files.push(fromContents('package.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)));

  for (const folder of options.appFolders ?? defaultAppFolders) {
    files.push(...compiledFiles(projectRoot, outDir, folder));
    for (const file of walkFiles(join(projectRoot, folder))) {
      if (isAppDataFile(file.relativePath)) files.push(fromDisk(`${folder}/${file.relativePath}`, file));
    }
  }

  const lock = parsePackageLock(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8'));
  const prunedByRule = new Map<PruneRule, { files: number; bytes: number }>();
  for (const folder of productionPackageFolders(lock, (path) => existsSync(join(projectRoot, path)))) {
    for (const file of walkFiles(join(projectRoot, folder))) {
      const archivePath = `${folder}/${file.relativePath}`;
      const rule = pruneRuleFor(archivePath, target);
      if (rule === undefined) {
        files.push(fromDisk(archivePath, file));
      } else {
        const tally = prunedByRule.get(rule) ?? { files: 0, bytes: 0 };
        prunedByRule.set(rule, { files: tally.files + 1, bytes: tally.bytes + file.size });
      }
    }
  }

  files.sort((a, b) => compareBytes(a.archivePath, b.archivePath));
  for (let index = 1; index < files.length; index += 1) {
    if (files[index]!.archivePath === files[index - 1]!.archivePath) {
      throw new Error(`two staged files share the path ${files[index]!.archivePath}`);
    }
  }
  const pruned = [...prunedByRule].map(([rule, tally]) => ({ rule, ...tally }));
  return { files, pruned: pruned.sort((a, b) => b.bytes - a.bytes || compareBytes(a.rule, b.rule)) };
}

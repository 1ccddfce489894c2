/**
 * Reading and writing model packages. A package is read through `PackageFiles` (a folder, a blob prefix, or an
 * in-memory map) and every listed file is checked against its sha256 before anything is used: a truncated
 * upload or a swapped graph must fail the load, never serve.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import {
  MANIFEST_FILE,
  MODEL_PACKAGE_FORMAT_VERSION,
  ModelPackageError,
  parseManifest,
  type ManifestFileEntry,
  type ModelManifest,
} from './manifest';

/** Read access to the files of one package. */
export interface PackageFiles {
  /** Where the package lives, for messages and audit (e.g. `models/v3/` or a folder path). */
  readonly location: string;
  read(name: string): Promise<Uint8Array>;
}

export interface ModelPackage {
  readonly manifest: ModelManifest;
  /** sha256 of the manifest bytes; since the manifest lists every file's sha256, it identifies the package. */
  readonly packageHash: string;
  /** Verified contents of every listed file. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly location: string;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads the manifest, then every listed file in parallel, verifying sizes and hashes. */
export async function readModelPackage(source: PackageFiles): Promise<ModelPackage> {
  const manifestBytes = await source.read(MANIFEST_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(manifestBytes).toString('utf8'));
  } catch (error: unknown) {
    throw new ModelPackageError(source.location, [
      `${MANIFEST_FILE} is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
  const manifest = parseManifest(parsed, source.location);
  const entries = Object.entries(manifest.files);
  const contents = await Promise.all(entries.map(async ([name]) => source.read(name)));
  const problems: string[] = [];
  const files = new Map<string, Uint8Array>();
  entries.forEach(([name, expected], index) => {
    const bytes = contents[index]!;
    if (bytes.byteLength !== expected.bytes) {
      problems.push(`${name}: ${bytes.byteLength} bytes, the manifest lists ${expected.bytes}`);
    }
    const actual = sha256Hex(bytes);
    if (actual !== expected.sha256) problems.push(`${name}: sha256 ${actual} does not match the manifest`);
    files.set(name, bytes);
  });
  if (problems.length > 0) throw new ModelPackageError(source.location, problems);
  return { manifest, packageHash: sha256Hex(manifestBytes), files, location: source.location };
}

/** Everything in a manifest except what `buildModelPackage` computes. */
export type ManifestDraft = Omit<ModelManifest, 'files' | 'formatVersion'>;

/**
 * Builds a package's files (manifest included) from a draft and the file contents: hashes are computed here, so
 * a writer cannot list a hash that does not match. The result is validated exactly as a reader would.
 */
export function buildModelPackage(
  draft: ManifestDraft,
  files: ReadonlyMap<string, Uint8Array>,
): { manifest: ModelManifest; files: Map<string, Uint8Array>; packageHash: string } {
  const listed: Record<string, ManifestFileEntry> = {};
  for (const [name, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    listed[name] = { sha256: sha256Hex(bytes), bytes: bytes.byteLength };
  }
  const candidate = { formatVersion: MODEL_PACKAGE_FORMAT_VERSION, ...draft, files: listed };
  const manifest = parseManifest(
    JSON.parse(JSON.stringify(candidate)),
    `(new package ${draft.modelVersion})`,
  );
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
  const all = new Map(files);
  all.set(MANIFEST_FILE, manifestBytes);
  return { manifest, files: all, packageHash: sha256Hex(manifestBytes) };
}

/** A package in a local folder. */
export function folderPackageFiles(folder: string): PackageFiles {
  return { location: folder, read: async (name) => readFile(join(folder, name)) };
}

/** A package under a blob prefix (e.g. `v3/` in the `models` container). */
export function blobPackageFiles(container: ContainerClient, prefix: string): PackageFiles {
  const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  return {
    location: `${container.containerName}/${base}`,
    read: async (name) => container.getBlockBlobClient(base + name).downloadToBuffer(),
  };
}

/** A package held in memory (tests, and packages just built by training). */
export function memoryPackageFiles(location: string, files: ReadonlyMap<string, Uint8Array>): PackageFiles {
  return {
    location,
    read: async (name) => {
      const bytes = files.get(name);
      if (bytes === undefined) throw new ModelPackageError(location, [`${name}: missing from the package`]);
      return bytes;
    },
  };
}

/** Uploads a built package under `prefix`, manifest last, so a reader never sees a manifest without its files. */
export async function uploadModelPackage(
  container: ContainerClient,
  prefix: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const upload = (name: string, bytes: Uint8Array) =>
    container.getBlockBlobClient(base + name).uploadData(bytes);
  await Promise.all([...files].filter(([name]) => name !== MANIFEST_FILE).map(([n, b]) => upload(n, b)));
  const manifest = files.get(MANIFEST_FILE);
  if (manifest === undefined) throw new Error(`uploadModelPackage: no ${MANIFEST_FILE} among the files`);
  await upload(MANIFEST_FILE, manifest);
}

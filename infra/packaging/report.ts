/** The packager's summary: what the zip weighs and where the weight comes from. */
import type { PrunedFiles } from './plan';
import type { ZipEntry } from './zipDirectory';

export interface Contributor {
  /** A dependency folder (`node_modules/@azure/cosmos`) or a top-level app path (`dist`, `host.json`). */
  readonly name: string;
  readonly files: number;
  /** Bytes this contributor takes inside the zip. */
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
}

/**
 * Who an entry belongs to: the innermost package folder for a dependency (so a nested copy counts apart from
 * its parent), the first path segment for the app's own files.
 */
export function contributorOf(archivePath: string): string {
  const marker = 'node_modules/';
  const last = archivePath.lastIndexOf(marker);
  if (last < 0) return archivePath.split('/')[0] ?? archivePath;
  const segments = archivePath.slice(last + marker.length).split('/');
  const packageName = segments[0]?.startsWith('@') === true ? segments.slice(0, 2).join('/') : segments[0];
  return `${archivePath.slice(0, last)}${marker}${packageName ?? ''}`;
}

/** Contributors by size in the zip, biggest first. */
export function contributors(entries: readonly ZipEntry[]): Contributor[] {
  const byName = new Map<string, { files: number; compressedBytes: number; uncompressedBytes: number }>();
  for (const entry of entries) {
    const name = contributorOf(entry.name);
    const tally = byName.get(name) ?? { files: 0, compressedBytes: 0, uncompressedBytes: 0 };
    byName.set(name, {
      files: tally.files + 1,
      compressedBytes: tally.compressedBytes + entry.compressedSize,
      uncompressedBytes: tally.uncompressedBytes + entry.uncompressedSize,
    });
  }
  return [...byName]
    .map(([name, tally]) => ({ name, ...tally }))
    .sort((a, b) => b.compressedBytes - a.compressedBytes || (a.name < b.name ? -1 : 1));
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

export interface PackageSummary {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly entries: readonly ZipEntry[];
  readonly pruned: readonly PrunedFiles[];
  /** How many contributors to list. */
  readonly top: number;
}

/** The lines `npm run package` prints. */
export function formatSummary(summary: PackageSummary): string[] {
  const unpacked = summary.entries.reduce((total, entry) => total + entry.uncompressedSize, 0);
  const lines = [
    `deployment package ${summary.path}`,
    `  size    ${megabytes(summary.bytes)} (${summary.bytes} bytes), ${summary.entries.length} files, ` +
      `${megabytes(unpacked)} unpacked`,
    `  sha256  ${summary.sha256}`,
    '  biggest contributors (size in the zip, unpacked):',
  ];
  for (const contributor of contributors(summary.entries).slice(0, summary.top)) {
    lines.push(
      `    ${megabytes(contributor.compressedBytes).padStart(9)}  ${megabytes(contributor.uncompressedBytes).padStart(9)}` +
        `  ${contributor.name} (${contributor.files} files)`,
    );
  }
  lines.push('  pruned from the production dependencies (unpacked):');
  for (const pruned of summary.pruned) {
    lines.push(`    ${megabytes(pruned.bytes).padStart(9)}  ${pruned.rule} (${pruned.files} files)`);
  }
  return lines;
}

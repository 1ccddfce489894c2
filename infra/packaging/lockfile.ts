/**
 * The production dependency tree, read offline from package-lock.json (lockfileVersion 2 or 3). The lock file's
 * `packages` map names every installed folder and flags the ones only development needs, so it gives the same
 * set as `npm ls --omit=dev --all` without running npm or touching the network.
 */

/** The part of a package-lock.json `packages` entry the packager reads. */
export interface LockedPackage {
  readonly version?: string;
  /** Only development needs it. */
  readonly dev?: boolean;
  /** Only an optional dependency needs it; npm may have skipped installing it (another platform). */
  readonly optional?: boolean;
  /** Needed by development, or optional for production: kept when installed. */
  readonly devOptional?: boolean;
  /** A symlink to a workspace or `file:` folder rather than an installed copy. */
  readonly link?: boolean;
}

export interface PackageLock {
  readonly lockfileVersion?: number;
  readonly packages?: Readonly<Record<string, LockedPackage>>;
}

/** Parses package-lock.json text and checks it carries the `packages` map (npm 7 and later). */
export function parsePackageLock(text: string): PackageLock {
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== 'object') throw new Error('package-lock.json is not an object');
  const lock = parsed as PackageLock;
  if (lock.packages === undefined || typeof lock.packages !== 'object') {
    throw new Error(
      `package-lock.json (lockfileVersion ${String(lock.lockfileVersion)}) has no 'packages' map: ` +
        'regenerate it with npm 7 or later',
    );
  }
  return lock;
}

/**
 * Folders (relative to the project root, e.g. `node_modules/@azure/core-auth` or
 * `node_modules/a/node_modules/b`) of every installed package production needs, sorted.
 *
 * `isInstalled` says whether a folder exists: an optional package npm skipped on this platform is left out, while
 * a missing required one is an error, because shipping without it would fail only when the app first needs it.
 */
export function productionPackageFolders(
  lock: PackageLock,
  isInstalled: (folder: string) => boolean,
): string[] {
  const folders: string[] = [];
  const missing: string[] = [];
  for (const [folder, entry] of Object.entries(lock.packages ?? {})) {
    // Why: the '' entry is the project itself, staged separately with its own files.
    if (folder === '' || entry.dev === true) continue;
    if (!folder.startsWith('node_modules/') && !folder.includes('/node_modules/')) {
      throw new Error(
        `package-lock.json entry '${folder}' is not under node_modules (workspaces are not supported)`,
      );
    }
    if (entry.link === true) {
      throw new Error(`package-lock.json entry '${folder}' is a link; linked packages are not supported`);
    }
    if (!isInstalled(folder)) {
      if (entry.optional === true || entry.devOptional === true) continue;
      missing.push(folder);
      continue;
    }
    folders.push(folder);
  }
  if (missing.length > 0) {
    throw new Error(`production packages are not installed (run npm ci): ${missing.join(', ')}`);
  }
  return folders.sort(compareBytes);
}

/** Plain code-unit order: stable across locales, which `localeCompare` is not. */
export function compareBytes(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

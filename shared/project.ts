/**
 * Where the app's files are at run time. The same code runs from TypeScript source (tests), from the compiled
 * `dist/` tree (local host) and from a deployed Function App package; in all three the app root is the folder
 * holding host.json (the Functions host requires it there), so shipped data files are found relative to it.
 */
import { existsSync, readFileSync } from 'fs';
import { dirname, join, resolve } from 'path';

/** Walks up from `startDir` to the first folder holding host.json: the Function App root. */
export function findProjectRoot(startDir: string = __dirname): string {
  for (let dir = resolve(startDir); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'host.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no host.json above ${startDir}: not inside the Function App`);
  }
}

let version: string | undefined;

/** `version` from the app's package.json, read once. */
export function packageVersion(): string {
  if (version === undefined) {
    const parsed = JSON.parse(readFileSync(join(findProjectRoot(), 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    if (typeof parsed.version !== 'string') throw new Error('package.json has no version');
    version = parsed.version;
  }
  return version;
}

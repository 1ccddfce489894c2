import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findProjectRoot } from '../../shared/project';

/**
 * The code version a model records: `CODE_VERSION` when the build sets it (a commit id in CI), otherwise the
 * package name and version, so a package never claims a commit nobody recorded.
 */
export function codeVersion(): string {
  const fromEnvironment = process.env.CODE_VERSION;
  if (fromEnvironment !== undefined && fromEnvironment.trim() !== '') return fromEnvironment.trim();
  const manifest = JSON.parse(readFileSync(join(findProjectRoot(), 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return `${manifest.name}@${manifest.version}`;
}

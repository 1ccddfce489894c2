/**
 * Finds and loads the function app the way the Node worker does: the entry point is package.json `main`, which
 * may be a glob (`dist/functions/*.js`); every matching file is required and each `app.*` call inside registers a
 * function with our `@azure/functions-core`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { captureRegistrations, type CoreRegistration } from './core';
import { installCore } from './install-core';

export interface AppLocation {
  /** Folder holding the app's package.json. Default: the current working directory. */
  appRoot?: string;
  /** Entry file or glob, absolute or relative to `appRoot`. Default: package.json `main`. */
  entry?: string;
}

/** Registrations already captured in this process, per entry file: required modules never run twice. */
const loadedEntries = new Map<string, CoreRegistration[]>();

export function loadApp(location: AppLocation = {}): CoreRegistration[] {
  const appRoot = path.resolve(location.appRoot ?? process.cwd());
  const entry = location.entry ?? readMainField(appRoot);
  const files = expandEntry(appRoot, entry);
  if (files.length === 0) throw new Error(`App entry "${entry}" matches no file under ${appRoot}`);

  installCore();
  const registrations: CoreRegistration[] = [];
  for (const file of files) {
    let fromFile = loadedEntries.get(file);
    if (!fromFile) {
      fromFile = captureRegistrations(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the app is a dynamic require by design
        require(file);
      });
      loadedEntries.set(file, fromFile);
    }
    registrations.push(...fromFile);
  }
  if (registrations.length === 0) {
    throw new Error(
      `App entry "${entry}" registered no functions. If "@azure/functions" was required before the host ` +
        'installed "@azure/functions-core", it is stuck in test mode.',
    );
  }
  return registrations;
}

function readMainField(appRoot: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as { main?: unknown };
  if (typeof pkg.main !== 'string' || pkg.main === '') {
    throw new Error(`${appRoot}/package.json has no "main": the host cannot find the app's entry point`);
  }
  return pkg.main;
}

/** Expands `*`, `?` and `**` path segments; a plain path is returned as is when it exists. */
export function expandEntry(appRoot: string, entry: string): string[] {
  const absolute = path.resolve(appRoot, entry);
  if (!/[*?]/.test(entry)) return fs.existsSync(absolute) ? [absolute] : [];
  const { root } = path.parse(absolute);
  const segments = absolute.slice(root.length).split(path.sep);
  const matches = new Set<string>();
  walk(root, segments, matches);
  return [...matches].sort();
}

function walk(dir: string, segments: string[], out: Set<string>): void {
  const [head, ...rest] = segments;
  if (head === undefined) {
    if (fs.existsSync(dir) && fs.statSync(dir).isFile()) out.add(dir);
    return;
  }
  if (head === '**') {
    walk(dir, rest, out);
    for (const sub of subdirectories(dir)) walk(path.join(dir, sub), segments, out);
    return;
  }
  if (!/[*?]/.test(head)) {
    walk(path.join(dir, head), rest, out);
    return;
  }
  const pattern = new RegExp(
    '^' +
      head
        .split('')
        .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
  );
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return;
  for (const name of fs.readdirSync(dir)) {
    if (pattern.test(name)) walk(path.join(dir, name), rest, out);
  }
}

function subdirectories(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'node_modules')
    .map((d) => d.name);
}

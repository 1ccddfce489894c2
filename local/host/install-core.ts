/**
 * Makes `require('@azure/functions-core')` resolve to ./core in this process, as the Functions worker does for
 * the apps it loads. Must run before the app (and `@azure/functions`) is first required: the library caches a
 * failed lookup and then stays in test mode.
 *
 * Jest resolves modules itself and ignores this hook; tests that load an app in-process add
 * `jest.mock('@azure/functions-core', () => jest.requireActual('<path>/local/host/core'), { virtual: true })`.
 */
import Module from 'module';

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

const CORE_MODULE_NAME = '@azure/functions-core';
let installed = false;

export function installCore(): void {
  if (installed) return;
  const moduleInternals = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = moduleInternals._resolveFilename;
  const corePath = require.resolve('./core');
  moduleInternals._resolveFilename = function (request, parent, isMain, options) {
    if (request === CORE_MODULE_NAME) return corePath;
    return original.call(this, request, parent, isMain, options);
  };
  installed = true;
}

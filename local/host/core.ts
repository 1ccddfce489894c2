/**
 * The local stand-in for `@azure/functions-core`, the module the Azure Functions Node worker injects into the
 * app's process. `@azure/functions` calls it to register functions, hooks and its programming model; without it
 * the library runs in "test mode" and drops every registration. `installCore()` (see install-core.ts) makes
 * `require('@azure/functions-core')` resolve here. State is per process, as it is in the worker.
 */
import type {
  FunctionCallback,
  FunctionMetadata,
  HookCallback,
  ProgrammingModel,
  RpcLogCategory,
  RpcLogLevel,
} from './core-types';

/** Reported to the library like the worker reports its own version. */
export const version = '3.10.1';
/** The Functions host version the library may check for features (log hooks need >= 4.34). */
export const hostVersion = '4.1037.0';

export interface CoreRegistration {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

/** Mirrors the worker's Disposable so `app.hook.*(...).dispose()` works. */
export class Disposable {
  #callOnDispose: (() => unknown) | undefined;

  static from(...disposables: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => {
      for (const d of disposables) d.dispose();
    });
  }

  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): unknown {
    const call = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return call?.();
  }
}

type SystemLogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

interface CoreState {
  programmingModel: ProgrammingModel | undefined;
  /** Registrations made while an app entry was loading, grouped by that load (see `captureRegistrations`). */
  capturing: CoreRegistration[] | undefined;
  hooks: Map<string, Set<HookCallback>>;
  systemLog: SystemLogSink;
}

const state: CoreState = {
  programmingModel: undefined,
  capturing: undefined,
  hooks: new Map(),
  systemLog: (level, category, message) => {
    process.stderr.write(`[${category}:${level}] ${message}\n`);
  },
};

export function registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
  const sink = state.capturing;
  if (!sink) {
    // The worker only indexes functions while the app loads; later registrations would never be reachable.
    throw new Error(
      `Function "${metadata.name}" was registered outside of app loading; register at module top level.`,
    );
  }
  if (sink.some((r) => r.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
    throw new Error(`A function with name "${metadata.name}" has already been registered.`);
  }
  const registration = { metadata, callback };
  sink.push(registration);
  return new Disposable(() => {
    const i = sink.indexOf(registration);
    if (i >= 0) sink.splice(i, 1);
  });
}

export function setProgrammingModel(programmingModel: ProgrammingModel): void {
  state.programmingModel = programmingModel;
}

export function getProgrammingModel(): ProgrammingModel {
  if (!state.programmingModel) {
    throw new Error('No programming model was set: the app never loaded "@azure/functions".');
  }
  return state.programmingModel;
}

export function registerHook(hookName: string, callback: HookCallback): Disposable {
  const known = ['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log'];
  if (!known.includes(hookName)) {
    throw new RangeError(`Unrecognized hook "${hookName}"`);
  }
  let set = state.hooks.get(hookName);
  if (!set) {
    set = new Set();
    state.hooks.set(hookName, set);
  }
  const hooks = set;
  hooks.add(callback);
  return new Disposable(() => hooks.delete(callback));
}

/** System log from the library (the worker forwards these to the host's log). */
export function log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
  state.systemLog(level, category, message);
}

// ---- host-side API (not part of the worker contract) ----

/** Runs `load` and returns every function it registered. Loads do not nest. */
export function captureRegistrations(load: () => void): CoreRegistration[] {
  if (state.capturing) throw new Error('captureRegistrations does not nest');
  const captured: CoreRegistration[] = [];
  state.capturing = captured;
  try {
    load();
  } finally {
    state.capturing = undefined;
  }
  return captured;
}

export function hooksFor(hookName: string): HookCallback[] {
  return [...(state.hooks.get(hookName) ?? [])];
}

export function setSystemLogSink(sink: SystemLogSink): void {
  state.systemLog = sink;
}

export function currentProgrammingModel(): ProgrammingModel | undefined {
  return state.programmingModel;
}

/**
 * The loaded function app and the one way to run its functions: exactly the sequence the Node worker follows
 * for an InvocationRequest (programming model → invocation model → arguments → pre-invocation hooks → handler →
 * post-invocation hooks → response), fed with RPC-shaped data, so `@azure/functions` builds its real
 * `InvocationContext` and `HttpRequest` objects and handlers cannot tell this host from Azure.
 */
import { randomUUID } from 'crypto';
import { inspect } from 'util';
import { loadApp, type AppLocation } from './app-loader';
import { currentProgrammingModel, hooksFor, type CoreRegistration } from './core';
import type { CoreInvocationContext, RpcBindingInfo, RpcParameterBinding, RpcTypedData } from './core-types';
import type { HostExtension } from './extension';

export interface RegisteredFunction {
  name: string;
  /** Every binding by name (`$return` for the return binding) with `type`, `direction` and its options. */
  bindings: Record<string, RpcBindingInfo>;
  trigger: { name: string; type: string; [k: string]: unknown };
}

export interface InvokeRequest {
  triggerData: RpcTypedData;
  triggerMetadata?: Record<string, RpcTypedData>;
  /** Values for extra input bindings by binding name; the others come from the extensions' providers. */
  inputData?: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number };
}

export interface InvokeResult {
  /** Decoded return value: a JSON value, a string, a Buffer, a number, or the RPC http response. */
  returnValue: unknown;
  /** Decoded extra outputs by binding name (only those the handler set). */
  outputData: Record<string, unknown>;
}

export type RegistryLog = (level: string, msg: string) => void;

/** Delivers the value a handler set (or returned) for an output binding, e.g. writes a queue message. */
export type OutputBindingHandler = (
  binding: { name: string; type: string; [k: string]: unknown },
  value: unknown,
  invocation: { fn: RegisteredFunction; triggerMetadata: Record<string, RpcTypedData> },
) => Promise<void>;

type InputBindingProvider = NonNullable<HostExtension['inputBindings']>[string];

/** Shared by all invocations and app hooks, like the worker's app-level hook data. */
export const appHookData: Record<string, unknown> = {};

export class FunctionRegistry {
  readonly #functions = new Map<string, { fn: RegisteredFunction; registration: CoreRegistration }>();
  readonly #inputProviders = new Map<string, InputBindingProvider>();
  readonly #outputHandlers = new Map<string, OutputBindingHandler>();
  readonly #log: RegistryLog;

  /** Loads the app (package.json `main` or an explicit entry) and indexes its functions. */
  static load(location: AppLocation, log: RegistryLog): FunctionRegistry {
    return new FunctionRegistry(loadApp(location), log);
  }

  constructor(registrations: CoreRegistration[], log: RegistryLog) {
    this.#log = log;
    for (const registration of registrations) {
      const { name, bindings } = registration.metadata;
      const trigger = Object.entries(bindings).find(([, b]) => /trigger$/i.test(b.type ?? ''));
      if (!trigger) throw new Error(`Function "${name}" has no trigger binding`);
      const [triggerName, triggerBinding] = trigger;
      this.#functions.set(name.toLowerCase(), {
        registration,
        fn: {
          name,
          bindings,
          trigger: { ...triggerBinding, name: triggerName, type: String(triggerBinding.type) },
        },
      });
    }
  }

  /** Makes the extension's input-binding providers available to every invocation. */
  addExtension(extension: HostExtension): void {
    for (const [type, provider] of Object.entries(extension.inputBindings ?? {})) {
      if (this.#inputProviders.has(type.toLowerCase())) {
        throw new Error(`Two extensions provide input bindings of type "${type}"`);
      }
      this.#inputProviders.set(type.toLowerCase(), provider);
    }
  }

  /** Output bindings of this type are delivered by `handler` once the function returns. */
  addOutputHandler(type: string, handler: OutputBindingHandler): void {
    this.#outputHandlers.set(type.toLowerCase(), handler);
  }

  list(): RegisteredFunction[] {
    return [...this.#functions.values()].map((f) => f.fn);
  }

  byTriggerType(type: string): RegisteredFunction[] {
    return this.list().filter((f) => f.trigger.type.toLowerCase() === type.toLowerCase());
  }

  get(name: string): RegisteredFunction | undefined {
    return this.#functions.get(name.toLowerCase())?.fn;
  }

  /** Runs one invocation; a handler's error (after post-invocation hooks) rejects the promise. */
  async invoke(name: string, req: InvokeRequest): Promise<InvokeResult> {
    const entry = this.#functions.get(name.toLowerCase());
    if (!entry) throw new Error(`No function named "${name}" is registered`);
    const { fn, registration } = entry;
    const programmingModel = currentProgrammingModel();
    if (!programmingModel)
      throw new Error('The app never set a programming model (did it load "@azure/functions"?)');

    const invocationId = randomUUID();
    const coreCtx: CoreInvocationContext = {
      invocationId,
      metadata: { name: fn.name, bindings: fn.bindings },
      request: {
        invocationId,
        functionId: fn.name,
        inputData: this.#inputData(fn, req),
        triggerMetadata: req.triggerMetadata ?? {},
        retryContext: req.retryContext ?? null,
      },
      log: (level, category, message) =>
        this.#log(level, `[${fn.name}${category === 'user' ? '' : ':' + category}] ${message}`),
    };

    const model = programmingModel.getInvocationModel(coreCtx);
    const args = await model.getArguments();
    const hookData: Record<string, unknown> = {};

    coreCtx.state = 'preInvocationHooks';
    const pre = {
      hookData,
      appHookData,
      invocationContext: args.context,
      inputs: args.inputs,
      functionCallback: registration.callback,
    };
    for (const hook of hooksFor('preInvocation')) await hook(pre);

    coreCtx.state = 'invocation';
    let result: unknown;
    let error: unknown;
    try {
      result = await model.invokeFunction(args.context, pre.inputs, pre.functionCallback);
    } catch (err: unknown) {
      error = err;
    }

    coreCtx.state = 'postInvocationHooks';
    const post = {
      hookData,
      appHookData,
      invocationContext: args.context,
      inputs: pre.inputs,
      result,
      error,
    };
    for (const hook of hooksFor('postInvocation')) await hook(post);
    coreCtx.state = undefined;
    if (post.error !== undefined && post.error !== null) {
      throw post.error instanceof Error
        ? post.error
        : new Error(`Function "${fn.name}" threw ${inspect(post.error)}`);
    }

    const response = await model.getResponse(args.context, post.result);
    const outputData: Record<string, unknown> = {};
    for (const binding of response.outputData ?? []) {
      if (binding.name) outputData[binding.name] = decodeTypedData(binding.data);
    }
    const returnValue = decodeTypedData(response.returnValue);
    await this.#deliverOutputs(fn, outputData, returnValue, req.triggerMetadata ?? {});
    return { returnValue, outputData };
  }

  async #deliverOutputs(
    fn: RegisteredFunction,
    outputData: Record<string, unknown>,
    returnValue: unknown,
    triggerMetadata: Record<string, RpcTypedData>,
  ): Promise<void> {
    const values = Object.entries(outputData);
    const returnBinding = fn.bindings.$return;
    if (returnBinding && String(returnBinding.type).toLowerCase() !== 'http' && returnValue !== undefined) {
      values.push(['$return', returnValue]);
    }
    for (const [name, value] of values) {
      const binding = fn.bindings[name];
      if (!binding || value === undefined || value === null) continue;
      const type = String(binding.type);
      const handler = this.#outputHandlers.get(type.toLowerCase());
      if (!handler) {
        throw new Error(
          `Function "${fn.name}" set output binding "${name}" of type "${type}", which the local host cannot deliver`,
        );
      }
      await handler({ ...binding, name, type }, value, { fn, triggerMetadata });
    }
  }

  #inputData(fn: RegisteredFunction, req: InvokeRequest): RpcParameterBinding[] {
    const inputs: RpcParameterBinding[] = [{ name: fn.trigger.name, data: req.triggerData }];
    for (const [name, binding] of Object.entries(fn.bindings)) {
      if (name === fn.trigger.name || binding.direction !== 'in') continue;
      const given = req.inputData?.[name];
      if (given) {
        inputs.push({ name, data: given });
        continue;
      }
      const type = String(binding.type);
      const provider = this.#inputProviders.get(type.toLowerCase());
      if (!provider) {
        throw new Error(
          `Function "${fn.name}": no value for input binding "${name}" of type "${type}" ` +
            '(the local host supports it only when an extension provides it)',
        );
      }
      inputs.push({ name, data: provider({ ...binding, name, type }, fn) });
    }
    return inputs;
  }
}

/** Turns RPC typed data back into a plain value, the way the host reads a worker's response. */
export function decodeTypedData(data: RpcTypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json) as unknown;
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.stream) return Buffer.from(data.stream);
  if (data.http) return data.http;
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  if (data.collectionString?.string) return data.collectionString.string;
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  if (data.collectionDouble?.double) return data.collectionDouble.double;
  if (data.collectionSint64?.sint64) return data.collectionSint64.sint64.map(Number);
  return undefined;
}

/**
 * The contract between the local host and its extensions (the durable task extension, for one). An extension
 * sees the loaded functions, may supply values for input bindings the host does not know (e.g.
 * `durableClient`) and may serve HTTP under a path prefix on the host's port.
 */
import type { IncomingMessage, ServerResponse } from 'http';
import type { RpcTypedData } from './core-types';
import type { FunctionRegistry, RegisteredFunction } from './registry';

export type HostLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical';

export interface HostContext {
  registry: FunctionRegistry;
  /** Where the host's HTTP server listens, e.g. `http://127.0.0.1:7071` (no trailing slash). */
  baseUrl: string;
  /** The `AzureWebJobsStorage` connection string (Azurite locally). */
  storageConnectionString: string;
  log: (level: string, msg: string) => void;
}

export interface InputBindingInfo {
  name: string;
  type: string;
  [option: string]: unknown;
}

export interface HostExtension {
  name: string;
  start(ctx: HostContext): Promise<void>;
  stop(): Promise<void>;
  /** Values for extra input bindings of these types, e.g. `durableClient`. */
  inputBindings?: Record<string, (binding: InputBindingInfo, fn: RegisteredFunction) => RpcTypedData>;
  /** HTTP requests whose path starts with `pathPrefix` (e.g. `/runtime/webhooks/durabletask/`) go to `handle`. */
  http?: { pathPrefix: string; handle(req: IncomingMessage, res: ServerResponse): Promise<void> };
}

/**
 * HTTP triggers on one local port, as the Functions host serves them: `/<routePrefix>/<route>`, the trigger's
 * `methods`, and `authLevel` (`anonymous` is open; `function` and `admin` need the key in the `x-functions-key`
 * header or the `code` query parameter). Requests and responses cross the `{ http }` RPC shape the worker uses,
 * so handlers get the library's real `HttpRequest`. Extensions' HTTP handlers are matched first.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { RpcHttpData, RpcTypedData } from './core-types';
import type { HostExtension } from './extension';
import { compareRoutes, matchRoute, parseRoute, type RouteTemplate } from './routes';
import type { FunctionRegistry, RegisteredFunction } from './registry';

export interface HttpServerOptions {
  /** Port to listen on; 0 picks a free one. Default 7071. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  hostname?: string;
  /** Key accepted for `function` and `admin` auth levels. */
  functionKey: string;
  /** Route prefix (host.json `extensions.http.routePrefix`). Default `api`. */
  routePrefix?: string;
  extensions?: HostExtension[];
  log: (level: string, msg: string) => void;
}

interface HttpRoute {
  fn: RegisteredFunction;
  route: RouteTemplate;
  /** Upper-case methods, or undefined for any method. */
  methods: string[] | undefined;
  authLevel: string;
}

export class HttpTriggerServer {
  readonly #registry: FunctionRegistry;
  readonly #options: HttpServerOptions;
  readonly #routes: HttpRoute[];
  readonly #prefix: string;
  #server: http.Server | undefined;

  constructor(registry: FunctionRegistry, options: HttpServerOptions) {
    this.#registry = registry;
    this.#options = options;
    this.#prefix = (options.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
    this.#routes = registry
      .byTriggerType('httpTrigger')
      .map((fn) => {
        const methods = fn.trigger.methods;
        return {
          fn,
          route: parseRoute(typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name),
          methods: Array.isArray(methods) ? methods.map((m) => String(m).toUpperCase()) : undefined,
          // The host's default when a trigger names none.
          authLevel:
            typeof fn.trigger.authLevel === 'string' ? fn.trigger.authLevel.toLowerCase() : 'function',
        };
      })
      .sort((a, b) => compareRoutes(a.route, b.route));
  }

  /** Starts listening and returns the base URL, e.g. `http://127.0.0.1:7071`. */
  async start(): Promise<string> {
    const server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#options.log('error', `HTTP request ${req.method} ${req.url} failed: ${describeError(err)}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    this.#server = server;
    const hostname = this.#options.hostname ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 7071, hostname, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    return `http://${hostname}:${port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve, reject) =>
      server.close((err) => (err ? reject(err) : resolve())),
    );
    server.closeAllConnections();
    await closed;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    for (const extension of this.#options.extensions ?? []) {
      if (extension.http && url.pathname.startsWith(extension.http.pathPrefix)) {
        await extension.http.handle(req, res);
        return;
      }
    }

    const path = stripPrefix(url.pathname, this.#prefix);
    const candidates =
      path === undefined ? [] : this.#routes.map((r) => ({ r, params: matchRoute(r.route, path) }));
    const matching = candidates.filter((c) => c.params !== undefined);
    if (matching.length === 0) return sendStatus(res, 404);
    const method = (req.method ?? 'GET').toUpperCase();
    const hit = matching.find((c) => c.r.methods === undefined || c.r.methods.includes(method));
    if (!hit || !hit.params) return sendStatus(res, 405);

    if (hit.r.authLevel !== 'anonymous') {
      const key = headerValue(req.headers['x-functions-key']) ?? url.searchParams.get('code');
      if (key !== this.#options.functionKey) return sendStatus(res, 401);
    }

    const body = await readBody(req);
    const rpcRequest: RpcHttpData = {
      method,
      url: url.toString(),
      headers: flattenHeaders(req.headers),
      query: Object.fromEntries(url.searchParams.entries()),
      params: hit.params,
      body: { bytes: body },
      rawBody: { bytes: body },
    };

    let returnValue: unknown;
    try {
      ({ returnValue } = await this.#registry.invoke(hit.r.fn.name, { triggerData: { http: rpcRequest } }));
    } catch (err: unknown) {
      // The host answers 500 with no body, and logs the failure, when a function throws.
      this.#options.log('error', `Function "${hit.r.fn.name}" failed: ${describeError(err)}`);
      return sendStatus(res, 500);
    }
    writeRpcResponse(res, returnValue as RpcHttpData | undefined);
  }
}

function stripPrefix(pathname: string, prefix: string): string | undefined {
  if (prefix === '') return pathname;
  const lower = pathname.toLowerCase();
  const p = `/${prefix.toLowerCase()}`;
  if (lower === p) return '';
  return lower.startsWith(`${p}/`) ? pathname.slice(p.length + 1) : undefined;
}

function sendStatus(res: http.ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

function writeRpcResponse(res: http.ServerResponse, response: RpcHttpData | undefined): void {
  if (!response) return sendStatus(res, 204);
  const headers: Record<string, string | string[]> = { ...(response.headers ?? {}) };
  const cookies = (response.cookies ?? []).map((c) => formatCookie(c as RpcCookie));
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = typedDataBytes(response.body);
  res.writeHead(Number(response.statusCode ?? 200), headers);
  res.end(body);
}

function typedDataBytes(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  return Buffer.alloc(0);
}

interface RpcCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null; nanos?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: string | null;
  maxAge?: { value?: number | null } | null;
}

function formatCookie(c: RpcCookie): string {
  const parts = [`${c.name ?? ''}=${c.value ?? ''}`];
  if (c.domain?.value) parts.push(`Domain=${c.domain.value}`);
  if (c.path?.value) parts.push(`Path=${c.path.value}`);
  const seconds = c.expires?.value?.seconds;
  if (typeof seconds === 'number') parts.push(`Expires=${new Date(seconds * 1000).toUTCString()}`);
  if (typeof c.maxAge?.value === 'number') parts.push(`Max-Age=${c.maxAge.value}`);
  if (c.secure?.value) parts.push('Secure');
  if (c.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None' }[c.sameSite ?? ''];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

export function describeError(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

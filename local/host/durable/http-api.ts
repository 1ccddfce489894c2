/**
 * The Durable extension's HTTP API under `/runtime/webhooks/durabletask/`, in the shapes `DurableClient` calls
 * (its `rpcBaseUrl` routes) and the management URLs a check-status response hands out (same routes, with
 * `taskHub`/`connection` query parameters, which a single-hub local host ignores).
 */
import type { IncomingMessage, ServerResponse } from 'http';
import type { DurableEngine, ListFilter, StatusQuery } from './engine';
import { TERMINAL_STATUSES } from './protocol';

export const DURABLE_PATH_PREFIX = '/runtime/webhooks/durabletask/';

/** The placeholder DurableClient substitutes with an instance id in management URLs. */
const ID_PLACEHOLDER = 'INSTANCEID';

/** The `durableClient` input binding's value, as the Durable extension supplies it. */
export function clientBindingData(baseUrl: string, taskHubName: string): Record<string, unknown> {
  const root = `${baseUrl}${DURABLE_PATH_PREFIX}`;
  const hub = `taskHub=${encodeURIComponent(taskHubName)}&connection=Storage`;
  const instance = `${root}instances/${ID_PLACEHOLDER}`;
  return {
    taskHubName,
    creationUrls: {
      createNewInstancePostUri: `${root}orchestrators/{functionName}[/{instanceId}]?${hub}`,
      createAndWaitOnNewInstancePostUri: `${root}orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${hub}`,
    },
    managementUrls: {
      id: ID_PLACEHOLDER,
      statusQueryGetUri: `${instance}?${hub}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${hub}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${hub}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${hub}`,
      purgeHistoryDeleteUri: `${instance}?${hub}`,
      restartPostUri: `${instance}/restart?${hub}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${hub}`,
      resumePostUri: `${instance}/resume?reason={text}&${hub}`,
    },
    baseUrl: `${baseUrl}${DURABLE_PATH_PREFIX.replace(/\/$/, '')}`,
    requiredQueryStringParameters: hub,
    rpcBaseUrl: root,
    httpBaseUrl: root,
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(text);
}

function flag(value: string | null): boolean | undefined {
  return value === null ? undefined : value.toLowerCase() === 'true';
}

function listFilterOf(query: URLSearchParams): ListFilter {
  const from = query.get('createdTimeFrom');
  const to = query.get('createdTimeTo');
  const statuses = query.get('runtimeStatus');
  return {
    createdTimeFrom: from ? new Date(from) : undefined,
    createdTimeTo: to ? new Date(to) : undefined,
    runtimeStatus: statuses ? statuses.split(',').filter((s) => s.length > 0) : undefined,
  };
}

/** JSON text of a request body; an empty body means "no input". */
function jsonTextOf(body: string): string | undefined {
  if (body.trim() === '') return undefined;
  JSON.parse(body);
  return body;
}

export class DurableHttpApi {
  readonly #engine: DurableEngine;
  readonly #baseUrl: () => string;
  readonly #taskHubName: string;

  constructor(engine: DurableEngine, baseUrl: () => string, taskHubName: string) {
    this.#engine = engine;
    this.#baseUrl = baseUrl;
    this.#taskHubName = taskHubName;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.#route(req, res);
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err);
      const status = err instanceof SyntaxError ? 400 : 500;
      send(res, status, { message });
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.startsWith(DURABLE_PATH_PREFIX)
      ? url.pathname.slice(DURABLE_PATH_PREFIX.length)
      : '';
    const parts = path
      .split('/')
      .filter((p) => p.length > 0)
      .map(decodeURIComponent);
    const method = (req.method ?? 'GET').toUpperCase();
    const query = url.searchParams;

    if (parts[0] === 'orchestrators' && parts[1] && parts.length <= 3 && method === 'POST') {
      return this.#startNew(res, parts[1], parts[2], jsonTextOf(await readBody(req)));
    }
    if (parts[0] !== 'instances') {
      return send(res, 404, {
        message: `No durable route for ${method} /${path} (entities are not supported locally)`,
      });
    }
    const [, instanceId, operation, eventName] = parts;
    const statusQuery: StatusQuery = {
      showHistory: flag(query.get('showHistory')),
      showHistoryOutput: flag(query.get('showHistoryOutput')),
      showInput: flag(query.get('showInput')),
    };
    if (!instanceId) {
      if (method === 'GET') return send(res, 200, await this.#engine.list(listFilterOf(query), statusQuery));
      if (method === 'DELETE') {
        const deleted = await this.#engine.purgeBy(listFilterOf(query));
        return deleted > 0 ? send(res, 200, { instancesDeleted: deleted }) : send(res, 404);
      }
    } else if (!operation) {
      if (method === 'GET') {
        const status = await this.#engine.getStatus(instanceId, statusQuery);
        if (!status) return send(res, 404, { message: `No instance with ID '${instanceId}' found.` });
        const running = !TERMINAL_STATUSES.includes(status.runtimeStatus);
        const code = running ? 202 : status.runtimeStatus === 'Completed' ? 200 : 400;
        return send(res, code, status);
      }
      if (method === 'DELETE') {
        const deleted = await this.#engine.purge(instanceId);
        return deleted > 0 ? send(res, 200, { instancesDeleted: deleted }) : send(res, 404);
      }
    } else if (method === 'POST' && operation === 'raiseEvent' && eventName) {
      const outcome = await this.#engine.raiseEvent(instanceId, eventName, jsonTextOf(await readBody(req)));
      return send(res, outcome === 'accepted' ? 202 : outcome === 'gone' ? 410 : 404);
    } else if (method === 'POST' && operation === 'terminate') {
      const outcome = await this.#engine.terminate(instanceId, query.get('reason') ?? '');
      return send(res, outcome === 'accepted' ? 202 : outcome === 'gone' ? 410 : 404);
    } else if (method === 'POST' && ['rewind', 'suspend', 'resume', 'restart'].includes(operation)) {
      return send(res, 501, { message: `${operation} is not supported by the local durable engine` });
    }
    send(res, 405, { message: `${method} is not supported on /${path}` });
  }

  async #startNew(
    res: ServerResponse,
    name: string,
    instanceId: string | undefined,
    input: string | undefined,
  ): Promise<void> {
    if (!this.#engine.hasOrchestrator(name)) {
      return send(res, 400, {
        message: `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      });
    }
    const started = await this.#engine.startNew(name, instanceId, input);
    if (started === 'conflict') {
      return send(res, 409, {
        message: `An instance with ID '${instanceId ?? ''}' already exists and is not finished.`,
      });
    }
    const links = this.managementPayload(started.instanceId);
    send(res, 202, links, { Location: links.statusQueryGetUri ?? '' });
  }

  /** The check-status payload (`id`, `statusQueryGetUri`, ...) for one instance. */
  managementPayload(instanceId: string): Record<string, string> {
    const urls = clientBindingData(this.#baseUrl(), this.#taskHubName).managementUrls as Record<
      string,
      string
    >;
    const payload: Record<string, string> = {};
    for (const [key, value] of Object.entries(urls)) {
      payload[key] =
        key === 'id' ? instanceId : value.replace(ID_PLACEHOLDER, encodeURIComponent(instanceId));
    }
    return payload;
  }
}

/**
 * A Durable Functions engine for the local function host: runs the app's real `durable-functions` v3
 * orchestrators, activities and durable clients in one Node process, with history in Azure Table storage
 * (Azurite locally). It replaces the Durable Task extension that Core Tools would load, which cannot be
 * installed here.
 *
 * Scope (a development and test tool, not a production runtime):
 * - Orchestrations replay for real: every episode runs the orchestrator over the full history through the
 *   SDK's own executor; new actions are scheduled exactly once; episodes of one instance never overlap.
 * - Activities (at least once, `activityConcurrency` at a time), `callActivityWithRetry` (first interval,
 *   backoff coefficient, max interval, max attempts), `Task.all` / `Task.any`, durable timers, external events,
 *   custom status, terminate, failures (status Failed, output = the error message), sub-orchestrations (with
 *   retry) and `continueAsNew`.
 * - State lives in one table per task hub (see store.ts); instances, history, inbox, scheduled activities and
 *   timers survive a host restart, and `start()` picks all pending work up again.
 * - The client HTTP API under `/runtime/webhooks/durabletask/`: start, status (with history), list with
 *   filters, raise event, terminate, purge (one and by filter); the `durableClient` binding points at it.
 *
 * Limits:
 * - One host process per task hub: there is no lease, so two hosts on one hub would run the same work twice.
 * - One message per episode: simple and faithful, but a fan-out of N activities replays N times (fine for
 *   tens to a few hundred tasks, slow for many thousands).
 * - Not implemented: entities (callEntity, signalEntity, locks), durable HTTP (callHttp), suspend, resume,
 *   rewind, restart, versioning, replay schema V3 long-timer splitting, `retryTimeoutInMilliseconds` (the SDK
 *   cannot honour it either). An orchestrator that uses an unsupported action fails with a message saying so.
 * - A cancelled timer still fires (harmlessly) unless its orchestration has finished by then.
 * - Each stored value (input, result, output, one history event) must fit in one table entity (1 MiB,
 *   UTF-16): about 450 000 characters of JSON.
 * - An episode with more than 100 writes (a fan-out of ~50+ tasks) commits in several transactions; a crash
 *   between them may run some of those activities twice.
 * - Terminating a parent does not terminate its sub-orchestrations (as in Azure).
 * - `createHttpManagementPayload` (no request) uses http://localhost:7071 unless WEBSITE_HOSTNAME names the
 *   host's address; `createCheckStatusResponse` uses the request's origin and is always right.
 */
import type { HostContext, HostExtension, InputBindingInfo } from '../extension';
import type { RegisteredFunction } from '../registry';
import type { RpcTypedData } from '../core-types';
import { DurableEngine } from './engine';
import { DURABLE_PATH_PREFIX, DurableHttpApi, clientBindingData } from './http-api';
import type { IncomingMessage, ServerResponse } from 'http';

export interface DurableExtensionOptions {
  /** Task hub name: names the storage table and appears in the client binding. Default `LocalHub`. */
  taskHubName?: string;
  /** Activities that run at once. Default 4. */
  activityConcurrency?: number;
}

export class DurableExtension implements HostExtension {
  readonly name = 'durableTask';
  readonly taskHubName: string;
  readonly #activityConcurrency: number;
  #ctx: HostContext | undefined;
  #engine: DurableEngine | undefined;
  #api: DurableHttpApi | undefined;

  readonly inputBindings: Record<
    string,
    (binding: InputBindingInfo, fn: RegisteredFunction) => RpcTypedData
  > = {
    durableClient: () => this.#clientBinding(),
    orchestrationClient: () => this.#clientBinding(),
  };

  readonly http = {
    pathPrefix: DURABLE_PATH_PREFIX,
    handle: async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (!this.#api) {
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'The durable extension is not started' }));
        return;
      }
      await this.#api.handle(req, res);
    },
  };

  constructor(options: DurableExtensionOptions = {}) {
    this.taskHubName = options.taskHubName ?? 'LocalHub';
    this.#activityConcurrency = options.activityConcurrency ?? 4;
    if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(this.taskHubName)) {
      throw new Error(
        `taskHubName "${this.taskHubName}" must be 3-45 letters or digits, starting with a letter`,
      );
    }
  }

  /** The engine, for tests and tools that want to look at instances without HTTP. */
  get engine(): DurableEngine {
    if (!this.#engine) throw new Error('The durable extension is not started');
    return this.#engine;
  }

  async start(ctx: HostContext): Promise<void> {
    this.#ctx = ctx;
    const engine = new DurableEngine({
      storageConnectionString: ctx.storageConnectionString,
      taskHubName: this.taskHubName,
      registry: ctx.registry,
      log: ctx.log,
      activityConcurrency: this.#activityConcurrency,
    });
    await engine.start();
    this.#engine = engine;
    this.#api = new DurableHttpApi(engine, () => this.#baseUrl(), this.taskHubName);
  }

  async stop(): Promise<void> {
    const engine = this.#engine;
    this.#api = undefined;
    this.#engine = undefined;
    if (engine) await engine.stop();
  }

  #baseUrl(): string {
    if (!this.#ctx) throw new Error('The durable extension is not started');
    return this.#ctx.baseUrl.replace(/\/$/, '');
  }

  #clientBinding(): RpcTypedData {
    return { json: JSON.stringify(clientBindingData(this.#baseUrl(), this.taskHubName)) };
  }
}

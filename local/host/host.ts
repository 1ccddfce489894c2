/**
 * LocalFunctionHost: a DEVELOPMENT AND TEST TOOL, not a production runtime. Azure Functions Core Tools cannot
 * be installed here, so this runs the app's own `@azure/functions` v4 registrations in one Node process the way
 * the Functions host and its Node worker do: HTTP triggers on a local port, blob / queue triggers polling
 * Azurite, timer triggers, storage output bindings, and host extensions (the durable task extension) that add
 * input bindings and HTTP endpoints. Where Core Tools are available, `func start` runs the same app unchanged.
 */
import { randomBytes } from 'crypto';
import * as path from 'path';
import { setSystemLogSink, hooksFor } from './core';
import type { HostContext, HostExtension } from './extension';
import { readHostJson, readLocalSettings } from './host-config';
import { HttpTriggerServer } from './http';
import { registerStorageOutputs } from './outputs';
import { appHookData, FunctionRegistry } from './registry';
import type { AppSettings } from './settings';
import { BlobTriggerListener, type BlobTriggerOptions } from './triggers/blob';
import { QueueTriggerListener, type QueueTriggerOptions } from './triggers/queue';
import { ServiceBusTriggerListener } from './triggers/service-bus';
import { TimerTriggerListener } from './triggers/timer';
import type { TriggerListener } from './triggers/trigger';

export interface LocalHostOptions {
  /** App folder (package.json, host.json, local.settings.json). Default: the current working directory. */
  appRoot?: string;
  /** Entry file or glob relative to `appRoot`. Default: package.json `main`. */
  entry?: string;
  /** HTTP port; 0 picks a free one. Default 7071. */
  port?: number;
  /** Key for `function`/`admin` HTTP triggers. Default: env `LOCAL_FUNCTION_KEY`, else random. */
  functionKey?: string;
  /** `AzureWebJobsStorage`. Default: that app setting. Needed when a trigger or extension uses storage. */
  storageConnectionString?: string;
  /** App settings. Default: `local.settings.json` Values overlaid by `process.env`. */
  settings?: AppSettings;
  /** Names this host in receipts and timer status. Default `local-function-host`. */
  hostId?: string;
  extensions?: HostExtension[];
  blob?: BlobTriggerOptions;
  /** Overrides host.json `extensions.queues` (and the poll interval). */
  queue?: QueueTriggerOptions;
  /** Default: one line per message on stdout / stderr. */
  log?: (level: string, msg: string) => void;
}

export class LocalFunctionHost {
  readonly functionKey: string;
  #registry: FunctionRegistry | undefined;
  #http: HttpTriggerServer | undefined;
  #listeners: TriggerListener[] = [];
  #started: HostExtension[] = [];
  #baseUrl: string | undefined;
  #routePrefix: string | undefined;
  readonly #options: LocalHostOptions;
  readonly #log: (level: string, msg: string) => void;

  constructor(options: LocalHostOptions = {}) {
    this.#options = options;
    this.functionKey =
      options.functionKey ?? process.env.LOCAL_FUNCTION_KEY ?? randomBytes(24).toString('base64url');
    this.#log = options.log ?? defaultLog;
  }

  get registry(): FunctionRegistry {
    if (!this.#registry) throw new Error('The host has not started');
    return this.#registry;
  }

  /** host.json `extensions.http.routePrefix` (default `api`), known once started. */
  get routePrefix(): string {
    if (this.#routePrefix === undefined) throw new Error('The host has not started');
    return this.#routePrefix;
  }

  get baseUrl(): string {
    if (!this.#baseUrl) throw new Error('The host has not started');
    return this.#baseUrl;
  }

  async start(): Promise<void> {
    const appRoot = path.resolve(this.#options.appRoot ?? process.cwd());
    const hostJson = readHostJson(appRoot);
    this.#routePrefix = hostJson.routePrefix;
    const settings = this.#options.settings ?? appSettings(appRoot);
    const storageConnectionString =
      this.#options.storageConnectionString ?? settings.AzureWebJobsStorage ?? '';
    const allSettings: AppSettings = {
      ...settings,
      AzureWebJobsStorage: storageConnectionString || undefined,
    };

    setSystemLogSink((level, category, message) => this.#log(level, `[${category}] ${message}`));
    const registry = FunctionRegistry.load({ appRoot, entry: this.#options.entry }, this.#log);
    this.#registry = registry;
    const extensions = this.#options.extensions ?? [];
    const needsStorage =
      extensions.length > 0 ||
      ['blobTrigger', 'queueTrigger', 'timerTrigger'].some((t) => registry.byTriggerType(t).length > 0);
    if (needsStorage && storageConnectionString === '') {
      throw new Error(
        'AzureWebJobsStorage is not set: triggers and extensions of this app need a storage account',
      );
    }
    registerStorageOutputs(registry, allSettings, hostJson.queues.messageEncoding ?? 'base64');
    for (const extension of extensions) registry.addExtension(extension);

    this.#http = new HttpTriggerServer(registry, {
      port: this.#options.port ?? 7071,
      functionKey: this.functionKey,
      routePrefix: hostJson.routePrefix,
      extensions,
      log: this.#log,
    });
    this.#baseUrl = await this.#http.start();

    const context: HostContext = {
      registry,
      baseUrl: this.#baseUrl,
      storageConnectionString,
      log: this.#log,
    };
    for (const extension of extensions) {
      await extension.start(context);
      this.#started.push(extension);
    }
    for (const hook of hooksFor('appStart'))
      await hook({ hookData: {}, appHookData, functionAppDirectory: appRoot });

    const env = {
      registry,
      settings: allSettings,
      hostId: this.#options.hostId ?? 'local-function-host',
      storageConnectionString,
      log: this.#log,
    };
    this.#listeners = [
      new BlobTriggerListener(env, this.#options.blob),
      new QueueTriggerListener(env, { ...hostJson.queues, ...this.#options.queue }),
      new TimerTriggerListener(env),
      new ServiceBusTriggerListener(env),
    ];
    for (const listener of this.#listeners) await listener.start();

    const coreTriggers = ['httptrigger', 'blobtrigger', 'queuetrigger', 'timertrigger', 'servicebustrigger'];
    for (const fn of registry.list()) {
      if (!coreTriggers.includes(fn.trigger.type.toLowerCase())) {
        // Durable triggers belong to the durable extension; anything else never fires locally.
        this.#log(
          'information',
          `Function "${fn.name}" (${fn.trigger.type}) is not triggered by the core host`,
        );
      }
    }
  }

  /** Stops triggers first (no new invocations), then app hooks, extensions and the HTTP server. */
  async stop(): Promise<void> {
    for (const listener of this.#listeners) await listener.stop();
    this.#listeners = [];
    if (this.#registry) {
      for (const hook of hooksFor('appTerminate')) await hook({ hookData: {}, appHookData });
    }
    for (const extension of this.#started.reverse()) await extension.stop();
    this.#started = [];
    await this.#http?.stop();
    this.#http = undefined;
  }
}

/** local.settings.json Values, overlaid by the real environment; they also become env vars, as under Core Tools. */
function appSettings(appRoot: string): AppSettings {
  const local = readLocalSettings(appRoot);
  for (const [key, value] of Object.entries(local)) process.env[key] ??= value;
  return { ...local, ...process.env };
}

function defaultLog(level: string, msg: string): void {
  const line = `${new Date().toISOString()} ${level.padEnd(11)} ${msg}\n`;
  if (level === 'error' || level === 'critical' || level === 'warning') process.stderr.write(line);
  else process.stdout.write(line);
}

/**
 * The application's settings, read from the environment once.
 *
 * Connections follow the Azure Functions identity-based convention: a setting NAME holds a connection string
 * (local emulators), while `NAME__accountName`, `NAME__blobServiceUri`, `NAME__accountEndpoint`,
 * `NAME__fullyQualifiedNamespace` (plus an optional `NAME__clientId` for a user-assigned managed identity) select
 * identity-based access through DefaultAzureCredential. In Azure (`HS_ENV=azure`) keys are refused: every
 * connection must be identity-based.
 *
 * `loadConfig(env)` is pure and reports every problem in one error; `getConfig()` reads `process.env` once.
 */
import { packageVersion } from './project';

/** Where the app runs: `local` uses the emulators and accepts keys; `azure` requires managed identity. */
export type Environment = 'local' | 'azure';

/** An Azure Storage account, reached by connection string or by identity. */
export type StorageConnection =
  | {
      readonly kind: 'connectionString';
      readonly connectionString: string;
      /** `UseDevelopmentStorage=true`: Azurite on its default ports. */
      readonly isDevelopmentStorage: boolean;
    }
  | {
      readonly kind: 'identity';
      readonly blobServiceUri: string;
      /** Absent only when neither `__accountName` nor `__queueServiceUri` was given. */
      readonly queueServiceUri: string | undefined;
      /** Absent only when neither `__accountName` nor `__tableServiceUri` was given. */
      readonly tableServiceUri: string | undefined;
      /** Client id of a user-assigned managed identity; system-assigned when absent. */
      readonly clientId: string | undefined;
    };

/** A Cosmos DB (NoSQL API) account. */
export type CosmosConnection =
  | {
      readonly kind: 'key';
      readonly endpoint: string;
      readonly key: string;
      /** True only for an https endpoint on a loopback address: the local emulator's self-signed certificate. */
      readonly allowSelfSignedCertificate: boolean;
    }
  | {
      readonly kind: 'identity';
      readonly endpoint: string;
      readonly clientId: string | undefined;
      readonly allowSelfSignedCertificate: boolean;
    };

/** A Service Bus namespace. */
export type ServiceBusConnection =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | {
      readonly kind: 'identity';
      readonly fullyQualifiedNamespace: string;
      readonly clientId: string | undefined;
    };

export interface AppConfig {
  /** `HS_ENV`: `local` | `azure`. Default: `azure` when any `X__...` identity setting or `WEBSITE_SITE_NAME`
   * (set by App Service) is present, else `local`. */
  readonly environment: Environment;
  /** `APP_VERSION`: the version reported by `/api/health`. Default: `version` from package.json. */
  readonly appVersion: string;
  /** `AzureWebJobsStorage`: host storage (durable history, trigger receipts). Local default:
   * `UseDevelopmentStorage=true`. Required in Azure as `AzureWebJobsStorage__accountName` (or `__blobServiceUri`). */
  readonly hostStorage: StorageConnection;
  /** `DataStorage`: application blobs and queues. Local default: `UseDevelopmentStorage=true`. Required in Azure
   * as `DataStorage__accountName` or `DataStorage__blobServiceUri` (+ `__queueServiceUri`). */
  readonly dataStorage: StorageConnection;
  /** `CosmosDb`: `AccountEndpoint=...;AccountKey=...;`. Local default: the emulator at https://127.0.0.1:8081
   * with its well-known key. Required in Azure as `CosmosDb__accountEndpoint`. */
  readonly cosmos: CosmosConnection;
  /** `COSMOS_DATABASE`: the Cosmos database holding every container. Default: `hsmlops`. */
  readonly cosmosDatabase: string;
  /** `ServiceBus`: connection string or `ServiceBus__fullyQualifiedNamespace`. Optional; default: none. */
  readonly serviceBus: ServiceBusConnection | undefined;
  /** `DURABLE_TASK_HUB`: durable task hub name (3-45 letters and digits, starting with a letter). Default: `hsmlops`. */
  readonly durableTaskHub: string;
  /** `HEALTH_TIMEOUT_MS`: per-dependency timeout of `/api/health`, in milliseconds. Default: 2000. */
  readonly healthTimeoutMs: number;
  /** `INGEST_MAX_DESCRIPTION_LENGTH`: longest accepted description, in characters (after whitespace is
   * collapsed); longer rows are quarantined. Default: 512. */
  readonly ingestMaxDescriptionLength: number;
  /** `INGEST_UNLISTED_CODE_POLICY`: `keep` | `map-or-reject` | `reject`, what ingestion does with codes HS 2022
   * does not list (see shared/hs/labels.ts). Default: `keep`. */
  readonly ingestUnlistedCodePolicy: 'keep' | 'map-or-reject' | 'reject';
  /** `MODEL_PACKAGE`: the serving model package until the registry names a champion: a prefix in the `models`
   * blob container (`v3/`) or a local folder (`file:/path/to/package`). Default: none (classification answers 503). */
  readonly modelPackage: string | undefined;
  /** `ONNX_INTRA_OP_THREADS`: threads one ONNX run may use. Default: 1 (measured best on 2 cores, bench/serve.ts). */
  readonly onnxIntraOpThreads: number;
  /** `AUDIT_BUFFER_MAX`: audit records held in memory before the oldest are spilled to Blob. Default: 5000. */
  readonly auditBufferMax: number;
  /** `AUDIT_WRITE_TIMEOUT_MS`: an audit write to Cosmos slower than this is spilled to Blob. Default: 2000. */
  readonly auditWriteTimeoutMs: number;
  /** `MODEL_REFRESH_INTERVAL_MS`: how often an instance checks whether the serving package changed (one manifest
   * read) and swaps to it. Default: 60000. */
  readonly modelRefreshIntervalMs: number;
  /** `CLASSIFY_MICRO_BATCH_MS`: how long the first of several concurrent classify requests waits for others to
   * share its ONNX run, in ms; 0 turns micro-batching off. Default: 0 (measured: it raises the maximum rate but
   * not p99 at 200/s; BENCHMARKS.md). */
  readonly classifyMicroBatchMs: number;
  /** `CLASSIFY_MICRO_BATCH_MAX_ITEMS`: items per shared run; a batch that reaches it runs at once. Default: 32. */
  readonly classifyMicroBatchMaxItems: number;
  /** `BLOB_TRIGGER_SOURCE`: `LogsAndContainerScan` | `EventGrid`, how the Functions host learns of new blobs for
   * the blob triggers (`ingestUpload`, `retrainOnDataset`). Flex Consumption runs only `EventGrid`, which needs an
   * Event Grid subscription per trigger (infra/components/blobEvents.ts); the local host scans either way.
   * Default: `LogsAndContainerScan`. */
  readonly blobTriggerSource: BlobTriggerSource;
}

/** `source` of a blob trigger, as @azure/functions `StorageBlobTriggerOptions.source` takes it. */
export type BlobTriggerSource = 'EventGrid' | 'LogsAndContainerScan';

/** The Azurite shortcut every Azure SDK understands (blob 10000, queue 10001, table 10002). */
export const DEVELOPMENT_STORAGE = 'UseDevelopmentStorage=true';

/** The Cosmos DB emulator's published, well-known key: not a secret. */
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/** The Cosmos DB emulator's default endpoint. */
export const COSMOS_EMULATOR_ENDPOINT = 'https://127.0.0.1:8081/';

export const COSMOS_EMULATOR_CONNECTION_STRING = `AccountEndpoint=${COSMOS_EMULATOR_ENDPOINT};AccountKey=${COSMOS_EMULATOR_KEY};`;

/** Names of the settings, for infra/ and the local launchers. */
export const SETTING = {
  environment: 'HS_ENV',
  appVersion: 'APP_VERSION',
  hostStorage: 'AzureWebJobsStorage',
  dataStorage: 'DataStorage',
  cosmos: 'CosmosDb',
  cosmosDatabase: 'COSMOS_DATABASE',
  serviceBus: 'ServiceBus',
  durableTaskHub: 'DURABLE_TASK_HUB',
  healthTimeoutMs: 'HEALTH_TIMEOUT_MS',
  ingestMaxDescriptionLength: 'INGEST_MAX_DESCRIPTION_LENGTH',
  ingestUnlistedCodePolicy: 'INGEST_UNLISTED_CODE_POLICY',
  modelPackage: 'MODEL_PACKAGE',
  onnxIntraOpThreads: 'ONNX_INTRA_OP_THREADS',
  auditBufferMax: 'AUDIT_BUFFER_MAX',
  auditWriteTimeoutMs: 'AUDIT_WRITE_TIMEOUT_MS',
  modelRefreshIntervalMs: 'MODEL_REFRESH_INTERVAL_MS',
  classifyMicroBatchMs: 'CLASSIFY_MICRO_BATCH_MS',
  classifyMicroBatchMaxItems: 'CLASSIFY_MICRO_BATCH_MAX_ITEMS',
  blobTriggerSource: 'BLOB_TRIGGER_SOURCE',
} as const;

const DEFAULT_COSMOS_DATABASE = 'hsmlops';
const DEFAULT_TASK_HUB = 'hsmlops';
const DEFAULT_HEALTH_TIMEOUT_MS = 2000;
const DEFAULT_INGEST_MAX_DESCRIPTION_LENGTH = 512;
const UNLISTED_CODE_POLICIES = ['keep', 'map-or-reject', 'reject'] as const;
const DEFAULT_ONNX_INTRA_OP_THREADS = 1;
const DEFAULT_AUDIT_BUFFER_MAX = 5000;
const DEFAULT_AUDIT_WRITE_TIMEOUT_MS = 2000;
const DEFAULT_MODEL_REFRESH_INTERVAL_MS = 60_000;
const DEFAULT_CLASSIFY_MICRO_BATCH_MAX_ITEMS = 32;
const BLOB_TRIGGER_SOURCES = ['LogsAndContainerScan', 'EventGrid'] as const;
export const DEFAULT_BLOB_TRIGGER_SOURCE: BlobTriggerSource = 'LogsAndContainerScan';

/** Thrown by `loadConfig` with every problem found, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration (${problems.length} problem(s)):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates every setting; throws one `ConfigError` naming every missing or malformed one. */
export function loadConfig(env: Env): AppConfig {
  const problems: string[] = [];
  const environment = readEnvironment(env, problems);
  const connections = { env, environment, problems };

  const config: AppConfig = {
    environment,
    appVersion: nonEmpty(env[SETTING.appVersion]) ?? packageVersion(),
    hostStorage: readStorage(
      SETTING.hostStorage,
      ['blobServiceUri', 'queueServiceUri', 'tableServiceUri'],
      connections,
    ),
    dataStorage: readStorage(SETTING.dataStorage, ['blobServiceUri', 'queueServiceUri'], connections),
    cosmos: readCosmos(connections),
    cosmosDatabase: readCosmosDatabase(env, problems),
    serviceBus: readServiceBus(connections),
    durableTaskHub: readTaskHub(env, problems),
    healthTimeoutMs: readPositiveInteger(env, SETTING.healthTimeoutMs, DEFAULT_HEALTH_TIMEOUT_MS, problems),
    ingestMaxDescriptionLength: readPositiveInteger(
      env,
      SETTING.ingestMaxDescriptionLength,
      DEFAULT_INGEST_MAX_DESCRIPTION_LENGTH,
      problems,
    ),
    ingestUnlistedCodePolicy: readUnlistedCodePolicy(env, problems),
    modelPackage: nonEmpty(env[SETTING.modelPackage]),
    onnxIntraOpThreads: readPositiveInteger(
      env,
      SETTING.onnxIntraOpThreads,
      DEFAULT_ONNX_INTRA_OP_THREADS,
      problems,
    ),
    auditBufferMax: readPositiveInteger(env, SETTING.auditBufferMax, DEFAULT_AUDIT_BUFFER_MAX, problems),
    auditWriteTimeoutMs: readPositiveInteger(
      env,
      SETTING.auditWriteTimeoutMs,
      DEFAULT_AUDIT_WRITE_TIMEOUT_MS,
      problems,
    ),
    modelRefreshIntervalMs: readPositiveInteger(
      env,
      SETTING.modelRefreshIntervalMs,
      DEFAULT_MODEL_REFRESH_INTERVAL_MS,
      problems,
    ),
    classifyMicroBatchMs: readBoundedNumber(
      env,
      SETTING.classifyMicroBatchMs,
      0,
      { min: 0, max: 1000, integer: false },
      problems,
    ),
    classifyMicroBatchMaxItems: readPositiveInteger(
      env,
      SETTING.classifyMicroBatchMaxItems,
      DEFAULT_CLASSIFY_MICRO_BATCH_MAX_ITEMS,
      problems,
    ),
    blobTriggerSource: readBlobTriggerSource(env, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

let cached: AppConfig | undefined;

/** The process-wide configuration, read from `process.env` on first use. */
export function getConfig(): AppConfig {
  cached ??= loadConfig(process.env);
  return cached;
}

/** Forgets the cached configuration; for tests that change `process.env`. */
export function resetConfigForTests(): void {
  cached = undefined;
  cachedMonitoring = undefined;
  cachedRetrainSchedule = undefined;
}

interface ReadContext {
  readonly env: Env;
  readonly environment: Environment;
  readonly problems: string[];
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

const CONNECTION_SETTINGS = [SETTING.hostStorage, SETTING.dataStorage, SETTING.cosmos, SETTING.serviceBus];

function identitySettingsOf(env: Env, name: string): Map<string, string> {
  const prefix = `${name}__`;
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    const trimmed = nonEmpty(value);
    if (key.startsWith(prefix) && trimmed !== undefined) found.set(key.slice(prefix.length), trimmed);
  }
  return found;
}

function readEnvironment(env: Env, problems: string[]): Environment {
  const raw = nonEmpty(env[SETTING.environment]);
  if (raw === 'local' || raw === 'azure') return raw;
  if (raw !== undefined) {
    problems.push(`${SETTING.environment}: must be 'local' or 'azure', got '${raw}'`);
    return 'local';
  }
  const anyIdentity = CONNECTION_SETTINGS.some((name) => identitySettingsOf(env, name).size > 0);
  // An app deployed without any connection setting must fail, not quietly talk to emulators that aren't there.
  return anyIdentity || nonEmpty(env.WEBSITE_SITE_NAME) !== undefined ? 'azure' : 'local';
}

/** Parses `Key=Value;Key=Value;` (values may contain '=', as base64 keys do); keys are case-insensitive. */
export function parseConnectionString(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const segment of text.split(';')) {
    if (segment.trim() === '') continue;
    const equals = segment.indexOf('=');
    if (equals <= 0) throw new Error(`'${segment.trim()}' is not Key=Value`);
    parts.set(segment.slice(0, equals).trim().toLowerCase(), segment.slice(equals + 1).trim());
  }
  return parts;
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Validates an absolute URL; plain http is accepted only on loopback (emulators). Returns the problem, if any. */
function checkServiceUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `'${value}' is not an absolute URL`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined;
  return `'${value}' must be an https URL (http only on a loopback address)`;
}

/**
 * Splits `NAME` / `NAME__*` into the chosen form, reporting both-set and unknown suffixes.
 * Returns undefined for "not set at all".
 */
function readConnectionForm(
  name: string,
  allowedSuffixes: readonly string[],
  context: ReadContext,
):
  | { kind: 'connectionString'; value: string }
  | { kind: 'identity'; settings: Map<string, string> }
  | undefined {
  const connectionString = nonEmpty(context.env[name]);
  const identity = identitySettingsOf(context.env, name);
  for (const suffix of identity.keys()) {
    if (!allowedSuffixes.includes(suffix)) {
      context.problems.push(
        `${name}__${suffix}: unknown setting (expected one of ${allowedSuffixes.map((s) => `${name}__${s}`).join(', ')})`,
      );
    }
  }
  if (connectionString !== undefined && identity.size > 0) {
    context.problems.push(
      `${name}: set both as a connection string and as ${[...identity.keys()].map((s) => `${name}__${s}`).join(', ')}; choose one`,
    );
  }
  if (identity.size > 0) {
    const credential = identity.get('credential');
    if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
      context.problems.push(`${name}__credential: only 'managedidentity' is supported, got '${credential}'`);
    }
    return { kind: 'identity', settings: identity };
  }
  if (connectionString === undefined) return undefined;
  if (context.environment === 'azure') {
    context.problems.push(
      `${name}: HS_ENV=azure requires identity-based access (${name}__...), not a connection string with keys`,
    );
  }
  return { kind: 'connectionString', value: connectionString };
}

type StorageServiceUriSetting = 'blobServiceUri' | 'queueServiceUri' | 'tableServiceUri';

function readStorage(
  name: string,
  services: readonly StorageServiceUriSetting[],
  context: ReadContext,
): StorageConnection {
  const form = readConnectionForm(name, ['accountName', 'clientId', 'credential', ...services], context);
  if (form === undefined) {
    if (context.environment === 'azure') {
      context.problems.push(`${name}: missing; set ${name}__accountName (or ${name}__blobServiceUri)`);
    }
    return { kind: 'connectionString', connectionString: DEVELOPMENT_STORAGE, isDevelopmentStorage: true };
  }
  if (form.kind === 'connectionString') {
    const problem = checkStorageConnectionString(form.value);
    if (problem !== undefined) context.problems.push(`${name}: ${problem}`);
    return {
      kind: 'connectionString',
      connectionString: form.value,
      isDevelopmentStorage: /^\s*usedevelopmentstorage\s*=\s*true\s*;?\s*$/i.test(form.value),
    };
  }
  const accountName = form.settings.get('accountName');
  if (accountName !== undefined && !/^[a-z0-9]{3,24}$/.test(accountName)) {
    context.problems.push(
      `${name}__accountName: '${accountName}' is not a storage account name (3-24 a-z, 0-9)`,
    );
  }
  const uriOf = (setting: StorageServiceUriSetting, service: string): string | undefined => {
    const explicit = form.settings.get(setting);
    if (explicit !== undefined) {
      const problem = checkServiceUrl(explicit);
      if (problem !== undefined) context.problems.push(`${name}__${setting}: ${problem}`);
      return explicit;
    }
    return accountName === undefined ? undefined : `https://${accountName}.${service}.core.windows.net`;
  };
  const blobServiceUri = uriOf('blobServiceUri', 'blob');
  if (blobServiceUri === undefined) {
    context.problems.push(
      `${name}: identity-based access needs ${name}__accountName or ${name}__blobServiceUri`,
    );
  }
  return {
    kind: 'identity',
    blobServiceUri: blobServiceUri ?? '',
    queueServiceUri: services.includes('queueServiceUri') ? uriOf('queueServiceUri', 'queue') : undefined,
    tableServiceUri: services.includes('tableServiceUri') ? uriOf('tableServiceUri', 'table') : undefined,
    clientId: form.settings.get('clientId'),
  };
}

function checkStorageConnectionString(text: string): string | undefined {
  let parts: Map<string, string>;
  try {
    parts = parseConnectionString(text);
  } catch (error: unknown) {
    return `malformed connection string: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return undefined;
  const blobEndpoint = parts.get('blobendpoint');
  if (blobEndpoint !== undefined) {
    const problem = checkServiceUrl(blobEndpoint);
    if (problem !== undefined) return `BlobEndpoint ${problem}`;
  }
  const hasKey = parts.has('accountname') && parts.has('accountkey');
  const hasSas = blobEndpoint !== undefined && parts.has('sharedaccesssignature');
  if (!hasKey && !hasSas) {
    return 'malformed connection string: needs UseDevelopmentStorage=true, AccountName+AccountKey, or BlobEndpoint+SharedAccessSignature';
  }
  return undefined;
}

function readCosmos(context: ReadContext): CosmosConnection {
  const name = SETTING.cosmos;
  const form = readConnectionForm(name, ['accountEndpoint', 'clientId', 'credential'], context);
  if (form === undefined) {
    if (context.environment === 'azure')
      context.problems.push(`${name}: missing; set ${name}__accountEndpoint`);
    return {
      kind: 'key',
      endpoint: COSMOS_EMULATOR_ENDPOINT,
      key: COSMOS_EMULATOR_KEY,
      allowSelfSignedCertificate: true,
    };
  }
  if (form.kind === 'identity') {
    const endpoint = form.settings.get('accountEndpoint');
    if (endpoint === undefined) {
      context.problems.push(`${name}: identity-based access needs ${name}__accountEndpoint`);
    } else {
      const problem = checkServiceUrl(endpoint);
      if (problem !== undefined) context.problems.push(`${name}__accountEndpoint: ${problem}`);
    }
    return {
      kind: 'identity',
      endpoint: endpoint ?? '',
      clientId: form.settings.get('clientId'),
      allowSelfSignedCertificate: endpoint !== undefined && isLocalHttps(endpoint),
    };
  }
  let parts: Map<string, string> = new Map();
  try {
    parts = parseConnectionString(form.value);
  } catch (error: unknown) {
    context.problems.push(
      `${name}: malformed connection string: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const endpoint = parts.get('accountendpoint');
  const key = parts.get('accountkey');
  if (endpoint === undefined || key === undefined || key === '') {
    context.problems.push(`${name}: malformed connection string: needs AccountEndpoint=...;AccountKey=...;`);
  } else {
    const problem = checkServiceUrl(endpoint);
    if (problem !== undefined) context.problems.push(`${name}: AccountEndpoint ${problem}`);
  }
  return {
    kind: 'key',
    endpoint: endpoint ?? '',
    key: key ?? '',
    allowSelfSignedCertificate: endpoint !== undefined && isLocalHttps(endpoint),
  };
}

/** Certificate checks are relaxed only for a loopback https endpoint: nothing off-machine can present it. */
function isLocalHttps(endpoint: string): boolean {
  try {
    const url = new URL(endpoint);
    return url.protocol === 'https:' && isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}

function readServiceBus(context: ReadContext): ServiceBusConnection | undefined {
  const name = SETTING.serviceBus;
  const form = readConnectionForm(name, ['fullyQualifiedNamespace', 'clientId', 'credential'], context);
  if (form === undefined) return undefined;
  if (form.kind === 'identity') {
    const namespace = form.settings.get('fullyQualifiedNamespace');
    if (namespace === undefined) {
      context.problems.push(`${name}: identity-based access needs ${name}__fullyQualifiedNamespace`);
    } else if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(namespace)) {
      context.problems.push(
        `${name}__fullyQualifiedNamespace: '${namespace}' is not a host name (e.g. x.servicebus.windows.net)`,
      );
    }
    return {
      kind: 'identity',
      fullyQualifiedNamespace: namespace ?? '',
      clientId: form.settings.get('clientId'),
    };
  }
  try {
    const parts = parseConnectionString(form.value);
    if (!parts.has('endpoint'))
      context.problems.push(`${name}: malformed connection string: needs Endpoint=sb://...`);
  } catch (error: unknown) {
    context.problems.push(
      `${name}: malformed connection string: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { kind: 'connectionString', connectionString: form.value };
}

function readCosmosDatabase(env: Env, problems: string[]): string {
  const value = nonEmpty(env[SETTING.cosmosDatabase]) ?? DEFAULT_COSMOS_DATABASE;
  if (value.length > 255 || /[/\\#?]/.test(value)) {
    problems.push(
      `${SETTING.cosmosDatabase}: '${value}' is not a Cosmos database id (at most 255 chars, none of / \\ # ?)`,
    );
  }
  return value;
}

function readTaskHub(env: Env, problems: string[]): string {
  const value = nonEmpty(env[SETTING.durableTaskHub]) ?? DEFAULT_TASK_HUB;
  if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(value)) {
    problems.push(
      `${SETTING.durableTaskHub}: '${value}' is not a task hub name (3-45 letters and digits, starting with a letter)`,
    );
  }
  return value;
}

function readPositiveInteger(env: Env, name: string, fallback: number, problems: string[]): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    problems.push(`${name}: must be a positive integer, got '${raw}'`);
    return fallback;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function readUnlistedCodePolicy(env: Env, problems: string[]): (typeof UNLISTED_CODE_POLICIES)[number] {
  const raw = nonEmpty(env[SETTING.ingestUnlistedCodePolicy]);
  if (raw === undefined) return 'keep';
  const policy = UNLISTED_CODE_POLICIES.find((candidate) => candidate === raw);
  if (policy === undefined) {
    problems.push(
      `${SETTING.ingestUnlistedCodePolicy}: must be one of ${UNLISTED_CODE_POLICIES.join(', ')}, got '${raw}'`,
    );
    return 'keep';
  }
  return policy;
}

function readBlobTriggerSource(env: Env, problems: string[]): BlobTriggerSource {
  const raw = nonEmpty(env[SETTING.blobTriggerSource]);
  if (raw === undefined) return DEFAULT_BLOB_TRIGGER_SOURCE;
  const source = BLOB_TRIGGER_SOURCES.find((candidate) => candidate === raw);
  if (source === undefined) {
    problems.push(
      `${SETTING.blobTriggerSource}: must be ${BLOB_TRIGGER_SOURCES.map((s) => `'${s}'`).join(' or ')}, got '${raw}'`,
    );
    return DEFAULT_BLOB_TRIGGER_SOURCE;
  }
  return source;
}

/**
 * Reads `BLOB_TRIGGER_SOURCE` alone, for the blob-trigger registrations (functions/ingest.ts,
 * functions/retrain.ts): they run when the app loads, before any handler reads the whole configuration, and a
 * malformed value must stop the app's start there, naming it, rather than register a trigger that never fires.
 */
export function loadBlobTriggerSource(env: Env): BlobTriggerSource {
  const problems: string[] = [];
  const source = readBlobTriggerSource(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return source;
}

// ---------------------------------------------------------------------------------------------------------------
// Monitoring and scheduled retraining: read apart from `loadConfig`, when their timers register
// (functions/monitor.ts, functions/retrain-schedule.ts); a malformed value stops the app's start there, naming it.

/** An NCRONTAB expression (6 fields, seconds first) or an `hh:mm:ss` interval, as timer triggers accept. */
function checkTimerSchedule(name: string, schedule: string, problems: string[]): void {
  if (schedule.split(/\s+/).length !== 6 && !/^\d+(\.\d{2})?:\d{2}:\d{2}$/.test(schedule)) {
    problems.push(
      `${name}: '${schedule}' is not an NCRONTAB expression (6 fields, seconds first) or hh:mm:ss`,
    );
  }
}

export interface MonitoringConfig {
  /** `MONITOR_SCHEDULE`: NCRONTAB schedule of the monitoring timer. Default `0 *\/15 * * * *` (every 15 min). */
  readonly schedule: string;
  /** `MONITOR_WINDOW_MINUTES`: predictions of the last this-many minutes form the window. Default 60. */
  readonly windowMinutes: number;
  /** `MONITOR_MIN_RECORDS`: a model with fewer predictions in the window is not tested. Default 200. */
  readonly minRecords: number;
  /** `MONITOR_FALSE_ALARM_RATE`: α of every drift test and SLO check, per check and run. Default 0.01. */
  readonly falseAlarmRate: number;
  /** `MONITOR_MIN_PSI`: PSI below this never counts as drift, however significant. Default 0.1. */
  readonly minPsi: number;
  /** `MONITOR_MIN_OOV_INCREASE`: absolute rise of the OOV rate below this never counts as drift. Default 0.05. */
  readonly minOovIncrease: number;
  /** `MONITOR_NULL_SIMULATIONS`: simulated no-drift windows behind each PSI/JS threshold. Default 1000. */
  readonly nullSimulations: number;
  /** `MONITOR_REVIEW_RATE_TARGET`: SLO on the share of predictions sent to review. Default 0.35. */
  readonly reviewRateTarget: number;
  /** `MONITOR_LATENCY_P95_MS`: SLO on the p95 of request latency, in ms. Default 500. */
  readonly latencyP95Ms: number;
  /** `MONITOR_LATENCY_P99_MS`: SLO on the p99 of request latency, in ms. Default 1500. */
  readonly latencyP99Ms: number;
  /** `MONITOR_RETRAIN_COOLDOWN_MINUTES`: after a drift-started retraining, no other starts for this long.
   * Default 1440 (24 h). */
  readonly retrainCooldownMinutes: number;
}

export const MONITORING_SETTING = {
  schedule: 'MONITOR_SCHEDULE',
  windowMinutes: 'MONITOR_WINDOW_MINUTES',
  minRecords: 'MONITOR_MIN_RECORDS',
  falseAlarmRate: 'MONITOR_FALSE_ALARM_RATE',
  minPsi: 'MONITOR_MIN_PSI',
  minOovIncrease: 'MONITOR_MIN_OOV_INCREASE',
  nullSimulations: 'MONITOR_NULL_SIMULATIONS',
  reviewRateTarget: 'MONITOR_REVIEW_RATE_TARGET',
  latencyP95Ms: 'MONITOR_LATENCY_P95_MS',
  latencyP99Ms: 'MONITOR_LATENCY_P99_MS',
  retrainCooldownMinutes: 'MONITOR_RETRAIN_COOLDOWN_MINUTES',
} as const;

export const DEFAULT_MONITOR_SCHEDULE = '0 */15 * * * *';

type NumberRule = { readonly min: number; readonly max: number; readonly integer: boolean };

function readBoundedNumber(
  env: Env,
  name: string,
  fallback: number,
  rule: NumberRule,
  problems: string[],
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const inRange = Number.isFinite(value) && value >= rule.min && value <= rule.max;
  if (!inRange || (rule.integer && !Number.isInteger(value))) {
    problems.push(
      `${name}: must be ${rule.integer ? 'an integer' : 'a number'} in [${rule.min}, ${rule.max}], got '${raw}'`,
    );
    return fallback;
  }
  return value;
}

const COUNT_RULE = { min: 1, max: 1e9, integer: true } as const;
const SHARE_RULE = { min: 0, max: 1, integer: false } as const;
const OPEN_SHARE_RULE = { min: 1e-9, max: 1 - 1e-9, integer: false } as const;

/** Reads every monitoring setting; throws one `ConfigError` naming each bad one. */
export function loadMonitoringConfig(env: Env): MonitoringConfig {
  const problems: string[] = [];
  const schedule = env[MONITORING_SETTING.schedule]?.trim() || DEFAULT_MONITOR_SCHEDULE;
  checkTimerSchedule(MONITORING_SETTING.schedule, schedule, problems);
  const s = MONITORING_SETTING;
  const config: MonitoringConfig = {
    schedule,
    windowMinutes: readBoundedNumber(env, s.windowMinutes, 60, COUNT_RULE, problems),
    minRecords: readBoundedNumber(env, s.minRecords, 200, COUNT_RULE, problems),
    falseAlarmRate: readBoundedNumber(env, s.falseAlarmRate, 0.01, OPEN_SHARE_RULE, problems),
    minPsi: readBoundedNumber(env, s.minPsi, 0.1, { min: 0, max: 100, integer: false }, problems),
    minOovIncrease: readBoundedNumber(env, s.minOovIncrease, 0.05, SHARE_RULE, problems),
    nullSimulations: readBoundedNumber(
      env,
      s.nullSimulations,
      1000,
      { min: 100, max: 100_000, integer: true },
      problems,
    ),
    reviewRateTarget: readBoundedNumber(env, s.reviewRateTarget, 0.35, OPEN_SHARE_RULE, problems),
    latencyP95Ms: readBoundedNumber(env, s.latencyP95Ms, 500, { min: 1, max: 1e7, integer: false }, problems),
    latencyP99Ms: readBoundedNumber(
      env,
      s.latencyP99Ms,
      1500,
      { min: 1, max: 1e7, integer: false },
      problems,
    ),
    retrainCooldownMinutes: readBoundedNumber(
      env,
      s.retrainCooldownMinutes,
      1440,
      { min: 0, max: 1e7, integer: true },
      problems,
    ),
  };
  if (config.nullSimulations * config.falseAlarmRate < 1) {
    problems.push(
      `${s.nullSimulations}: ${config.nullSimulations} simulations cannot resolve a false-alarm rate of ${config.falseAlarmRate}; need at least ${Math.ceil(1 / config.falseAlarmRate)}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

let cachedMonitoring: MonitoringConfig | undefined;

/** The process-wide monitoring settings, read from `process.env` on first use. */
export function getMonitoringConfig(): MonitoringConfig {
  cachedMonitoring ??= loadMonitoringConfig(process.env);
  return cachedMonitoring;
}

export interface RetrainScheduleConfig {
  /** `RETRAIN_SCHEDULE`: NCRONTAB schedule (or `hh:mm:ss` interval) of scheduled retraining on the newest dataset
   * version; `off` registers no timer (null here). Default `0 0 2 * * 0` (Sundays at 02:00 UTC): weekly keeps a
   * model from ageing between uploads and drift alerts without retraining an unchanged dataset every night. */
  readonly schedule: string | null;
}

export const RETRAIN_SCHEDULE_SETTING = 'RETRAIN_SCHEDULE';
export const DEFAULT_RETRAIN_SCHEDULE = '0 0 2 * * 0';

/** Reads `RETRAIN_SCHEDULE`; throws a `ConfigError` when it is neither a schedule nor `off`. */
export function loadRetrainScheduleConfig(env: Env): RetrainScheduleConfig {
  const schedule = env[RETRAIN_SCHEDULE_SETTING]?.trim() || DEFAULT_RETRAIN_SCHEDULE;
  if (schedule.toLowerCase() === 'off') return Object.freeze({ schedule: null });
  const problems: string[] = [];
  checkTimerSchedule(RETRAIN_SCHEDULE_SETTING, schedule, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ schedule });
}

let cachedRetrainSchedule: RetrainScheduleConfig | undefined;

/** The process-wide retraining schedule, read from `process.env` on first use. */
export function getRetrainScheduleConfig(): RetrainScheduleConfig {
  cachedRetrainSchedule ??= loadRetrainScheduleConfig(process.env);
  return cachedRetrainSchedule;
}

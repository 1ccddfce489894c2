import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as authorization from '@pulumi/azure-native/authorization';
import * as pulumi from '@pulumi/pulumi';
import type { DeployerPrincipalType } from '../config';
import { deterministicGuid } from '../naming';
import { builtInRoleIds, roleDefinitionResourceId } from '../roles';

/**
 * The blob Flex Consumption runs the app from: OneDeploy (`az functionapp deployment source config-zip`, `func
 * azure functionapp publish`) writes the package into the deployment container under this name, and the
 * platform loads it from there at every instance start. Uploading it under the same name is the
 * infrastructure-as-code route the Azure Functions IaC guide describes for Flex apps.
 */
export const flexPackageBlobName = 'released-package.zip';

/** Project root: relative package paths in stack config are read from here, whatever the working directory. */
const projectRoot = resolve(__dirname, '..', '..');

/** The configured package path made absolute; relative paths are relative to the project root. */
export function resolvePackagePath(configuredPath: string): string {
  return isAbsolute(configuredPath) ? configuredPath : resolve(projectRoot, configuredPath);
}

/** A deployment zip found on disk, with the digest that identifies it. */
export interface PackageFile {
  /** Absolute path of the zip. */
  readonly path: string;
  /** Hex sha256 of its bytes. */
  readonly sha256: string;
}

/**
 * Finds the configured zip and hashes it. The program calls this before it declares any Azure resource, so a
 * missing zip stops `pulumi up` before it changes anything; otherwise it would surface only when the upload ran,
 * after the rest of the stack had been deployed around an app with nothing to run.
 */
export function locatePackage(configuredPath: string): PackageFile {
  const path = resolvePackagePath(configuredPath);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new Error(`deployment package ${path} does not exist: run npm run package first`);
  }
  return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
}

// ---------------------------------------------------------------------------------------------------------
// Pure pieces of the two dynamic providers below. Pulumi serialises a dynamic provider with every function it
// calls, so these are plain function declarations that reach nothing at module level except each other, and
// load their modules inside (`loadModule`) instead of closing over imported objects.
// ---------------------------------------------------------------------------------------------------------

/**
 * `require` for the provider's code. Pulumi evaluates a serialised provider as a CommonJS module whose `require`
 * resolves from the project's node_modules; a dynamic `import()` there has no usable referrer to resolve from.
 */
function loadModule<T>(specifier: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: only require works after serialisation
  return require(specifier) as T;
}

/** What the package upload needs; also its stored state, with `blobUrl` and `etag` added. */
export interface PackageUploadInputs {
  /** Host storage account (for messages; the URL comes from `blobEndpoint`). */
  readonly accountName: string;
  /** The account's blob endpoint, `https://<account>.blob.core.windows.net/`. */
  readonly blobEndpoint: string;
  readonly containerName: string;
  readonly blobName: string;
  /** Absolute path of the zip on the deploying machine; not part of the diff, which compares content. */
  readonly packagePath: string;
  /** Hex sha256 of the zip: the upload's identity, and the blob's `sha256` metadata. */
  readonly sha256: string;
  /** How long a 403 AuthorizationPermissionMismatch is retried while the deployer's new role propagates. */
  readonly roleWaitSeconds: number;
}

export interface PackageUploadState extends PackageUploadInputs {
  readonly blobUrl: string;
  readonly etag: string;
}

/** `https://<account>.blob.core.windows.net/<container>/<blob>` from the account's blob endpoint. */
export function packageBlobUrl(
  location: Pick<PackageUploadInputs, 'blobEndpoint' | 'containerName' | 'blobName'>,
): string {
  const endpoint = location.blobEndpoint.endsWith('/') ? location.blobEndpoint : `${location.blobEndpoint}/`;
  return `${endpoint}${encodeURIComponent(location.containerName)}/${location.blobName
    .split('/')
    .map(encodeURIComponent)
    .join('/')}`;
}

/** The dynamic-provider diff of the upload, reduced to what matters: where the blob is and what it holds. */
export interface UploadDiff {
  readonly changes: boolean;
  /** Location inputs that changed: the upload is replaced (a new blob, then the old one deleted). */
  readonly replaces: string[];
}

/**
 * Content is compared by sha256 alone, so an unchanged zip (even rebuilt elsewhere, at another path) uploads
 * nothing, and a changed one is written over the same blob in place. A new location is a replacement: the new
 * blob first, then the old deleted, which is safe because the two names differ.
 */
export function diffPackageUpload(olds: PackageUploadInputs, news: PackageUploadInputs): UploadDiff {
  // The inputs that name the blob; declared here because the provider is serialised with this function.
  const locationKeys = ['blobEndpoint', 'containerName', 'blobName'] as const;
  const replaces = locationKeys.filter((key) => olds[key] !== news[key]);
  return { changes: replaces.length > 0 || olds.sha256 !== news.sha256, replaces: [...replaces] };
}

/** A storage error's HTTP status and service error code, read without trusting its shape. */
function storageErrorOf(error: unknown): { statusCode?: number; code?: string } {
  if (typeof error !== 'object' || error === null) return {};
  const record = error as { statusCode?: unknown; code?: unknown; response?: unknown };
  const parsedHeaders =
    typeof record.response === 'object' && record.response !== null
      ? (record.response as { parsedHeaders?: { errorCode?: unknown } }).parsedHeaders
      : undefined;
  const code = typeof record.code === 'string' ? record.code : parsedHeaders?.errorCode;
  return {
    ...(typeof record.statusCode === 'number' ? { statusCode: record.statusCode } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/**
 * True for the denial a role assignment that has not reached the storage data plane yet produces (403
 * AuthorizationPermissionMismatch: signed in, no data action). Every other failure is final: a 403 for another
 * reason (AuthorizationFailure: network rules, KeyBasedAuthenticationNotPermitted) does not heal by waiting, and
 * the SDK has already retried transient 5xx and network errors itself.
 */
export function isRolePropagationDenial(error: unknown): boolean {
  const { statusCode, code } = storageErrorOf(error);
  return statusCode === 403 && code === 'AuthorizationPermissionMismatch';
}

/** Time as the retry loops see it; tests pass a fake one. */
export interface Clock {
  now(): number;
  sleep(milliseconds: number): Promise<void>;
}

export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    sleep: (milliseconds) => new Promise((done) => setTimeout(done, milliseconds)),
  };
}

export interface BackOff {
  /** Total time to keep retrying, in ms. */
  readonly deadlineMs: number;
  /** First wait, doubled after every attempt. */
  readonly firstDelayMs: number;
  /** Longest single wait. */
  readonly maxDelayMs: number;
}

/** Wait before retry number `attempt` (0-based): doubling from `firstDelayMs`, capped at `maxDelayMs`. */
export function backOffDelayMs(backOff: BackOff, attempt: number): number {
  return Math.min(backOff.maxDelayMs, backOff.firstDelayMs * 2 ** Math.min(attempt, 30));
}

/**
 * Runs `operation` until it succeeds, fails with an error `isRetriable` rejects, or the deadline passes; the
 * last wait is shortened to end at the deadline, and one last attempt is made there. Giving up throws
 * `giveUp(lastError, attempts)`.
 */
export async function retryWithBackOff<T>(
  operation: () => Promise<T>,
  isRetriable: (error: unknown) => boolean,
  backOff: BackOff,
  giveUp: (lastError: unknown, attempts: number) => Error,
  clock: Clock,
): Promise<T> {
  const deadline = clock.now() + backOff.deadlineMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await operation();
    } catch (error: unknown) {
      if (!isRetriable(error)) throw error;
      const remaining = deadline - clock.now();
      if (remaining <= 0) throw giveUp(error, attempt + 1);
      await clock.sleep(Math.min(remaining, backOffDelayMs(backOff, attempt)));
    }
  }
}

/** The message a deployer sees when their new role never reached the storage data plane. */
export function roleNeverPropagatedError(
  inputs: PackageUploadInputs,
  lastError: unknown,
  attempts: number,
): Error {
  const detail = describeFailure(lastError);
  return new Error(
    `uploading ${inputs.blobName} to ${inputs.accountName}/${inputs.containerName} was still denied ` +
      `(403 AuthorizationPermissionMismatch) after ${inputs.roleWaitSeconds} s and ${attempts} attempts: the ` +
      'stack grants your login Storage Blob Data Contributor on that container, but the role has not reached ' +
      'the storage service yet. Check it in the portal (container, Access control) and run `pulumi up` again. ' +
      `Last error: ${detail}`,
  );
}

/**
 * Uploads the zip with the deployer's Entra login (`DefaultAzureCredential`: `az login`, or a service
 * principal's environment in CI): shared keys are off on the host account, which is why the azure-native
 * `storage.Blob` (account key) cannot write it. The bytes sent are the bytes hashed, read once; a zip rebuilt
 * between the program's hash and the upload stops the upload rather than labelling new bytes with an old hash.
 */
export async function uploadPackageBlob(inputs: PackageUploadInputs): Promise<PackageUploadState> {
  const { createHash: sha256Of } = loadModule<typeof import('node:crypto')>('node:crypto');
  const { readFile } = loadModule<typeof import('node:fs/promises')>('node:fs/promises');
  const { DefaultAzureCredential } = loadModule<typeof import('@azure/identity')>('@azure/identity');
  const { BlockBlobClient } = loadModule<typeof import('@azure/storage-blob')>('@azure/storage-blob');
  const bytes = await readFile(inputs.packagePath);
  const actual = sha256Of('sha256').update(bytes).digest('hex');
  if (actual !== inputs.sha256) {
    throw new Error(
      `${inputs.packagePath} changed while pulumi ran (sha256 ${actual}, expected ${inputs.sha256}): run ` +
        '`pulumi up` again to upload the new package',
    );
  }
  const blobUrl = packageBlobUrl(inputs);
  const client = new BlockBlobClient(blobUrl, new DefaultAzureCredential());
  const response = await retryWithBackOff(
    () =>
      client.uploadData(bytes, {
        blobHTTPHeaders: { blobContentType: 'application/zip' },
        metadata: { sha256: inputs.sha256 },
      }),
    isRolePropagationDenial,
    { deadlineMs: inputs.roleWaitSeconds * 1000, firstDelayMs: 2_000, maxDelayMs: 30_000 },
    (lastError, attempts) => roleNeverPropagatedError(inputs, lastError, attempts),
    systemClock(),
  );
  return { ...inputs, blobUrl, etag: response.etag ?? '' };
}

/** Deletes the uploaded blob; one already gone (deleted by hand, or with its account) is not an error. */
export async function deletePackageBlob(state: PackageUploadState): Promise<void> {
  const { DefaultAzureCredential } = loadModule<typeof import('@azure/identity')>('@azure/identity');
  const { BlockBlobClient } = loadModule<typeof import('@azure/storage-blob')>('@azure/storage-blob');
  await new BlockBlobClient(packageBlobUrl(state), new DefaultAzureCredential()).deleteIfExists();
}

/** What the warm-up polls, and for which package; also its stored state. */
export interface WarmUpInputs {
  /** `https://<app host>/api/health`: anonymous, 200 once the host runs and reaches its storage and Cosmos. */
  readonly healthUrl: string;
  /**
   * ARM id of the Function App: once the host answers, its triggers are synced (`syncfunctiontriggers`) so the
   * scale controller knows the new package's non-HTTP triggers (queue, timers, durable) while it scales to zero.
   */
  readonly functionAppId: string;
  /** The package the host should be running; a new one warms the app again after its restart. */
  readonly packageSha256: string;
  /** How long to poll before failing. */
  readonly timeoutSeconds: number;
  /** Pause between polls. */
  readonly intervalSeconds: number;
}

/** A changed URL or package warms again (an update, there is nothing to replace); the timings alone do not. */
export function diffWarmUp(olds: WarmUpInputs, news: WarmUpInputs): UploadDiff {
  return {
    changes:
      olds.healthUrl !== news.healthUrl ||
      olds.functionAppId !== news.functionAppId ||
      olds.packageSha256 !== news.packageSha256,
    replaces: [],
  };
}

/** Azure Resource Manager, and the token scope for it. */
export function armEndpoint(): { url: string; scope: string } {
  return { url: 'https://management.azure.com', scope: 'https://management.azure.com/.default' };
}

/** The ARM action that syncs a Function App's triggers, what OneDeploy and `func publish` call after a deploy. */
export function syncTriggersUrl(managementUrl: string, functionAppId: string): string {
  return `${managementUrl}${functionAppId}/syncfunctiontriggers?api-version=2024-04-01`;
}

/** An ARM answer worth retrying: throttled, or a passing server-side failure. */
export function isTransientArmStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * POSTs the sync-triggers action with a bearer token, retrying throttling and server errors for two minutes;
 * any other failure (403: the deployer may not write the app) is reported at once.
 */
export async function syncFunctionTriggers(url: string, bearerToken: string, clock: Clock): Promise<void> {
  const transient = (error: unknown): boolean =>
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number' &&
    isTransientArmStatus((error as { status: number }).status);
  await retryWithBackOff(
    async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearerToken}`, 'content-length': '0' },
        signal: AbortSignal.timeout(60_000),
      });
      const body = (await response.text()).replace(/\s+/g, ' ').slice(0, 300);
      if (response.status !== 200 && response.status !== 204) {
        throw Object.assign(new Error(`HTTP ${response.status} ${body}`), { status: response.status });
      }
    },
    transient,
    { deadlineMs: 120_000, firstDelayMs: 2_000, maxDelayMs: 30_000 },
    (lastError, attempts) =>
      new Error(`syncing the triggers failed after ${attempts} attempts: ${describeFailure(lastError)}`),
    clock,
  ).catch((error: unknown) => {
    throw new Error(
      `POST ${url.split('?')[0] ?? url} failed: ${describeFailure(error)}. The app runs the package; its ` +
        'non-HTTP triggers may not scale from zero until the next successful `pulumi up` or ' +
        '`az resource invoke-action --action syncfunctiontriggers`.',
      { cause: error },
    );
  });
}

/**
 * A failed request in words, with its cause: fetch reports only "fetch failed" and keeps the reason (DNS,
 * refused, TLS) in `cause`. Duck-typed, because errors from Node's own fetch need not pass `instanceof Error`.
 */
export function describeFailure(error: unknown): string {
  const messageOf = (value: unknown): string | undefined =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string'
      ? (value as { message: string }).message
      : undefined;
  const message = messageOf(error);
  if (message === undefined) return String(error);
  const cause = messageOf((error as { cause?: unknown }).cause);
  return cause === undefined ? message : `${message} (${cause})`;
}

export interface HealthPoll {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** Longest single request: a cold start of a Flex instance takes tens of seconds. */
  readonly requestTimeoutMs: number;
}

/**
 * Polls `url` until it answers 200. Anything else (DNS not yet resolving for a new app, 503 while the app's
 * roles propagate, a timeout during the cold start) is kept as the last outcome and polled again; past the
 * deadline it fails with that outcome and what to check.
 */
export async function waitForHealthy(
  url: string,
  poll: HealthPoll,
  clock: Clock,
): Promise<{ attempts: number }> {
  const deadline = clock.now() + poll.timeoutMs;
  let lastOutcome: string;
  for (let attempts = 1; ; attempts += 1) {
    try {
      const response = await fetch(url, {
        signal: AbortSignal.timeout(poll.requestTimeoutMs),
        headers: { 'cache-control': 'no-cache' },
      });
      if (response.status === 200) {
        await response.body?.cancel();
        return { attempts };
      }
      const body = (await response.text()).replace(/\s+/g, ' ').slice(0, 300);
      lastOutcome = `HTTP ${response.status} ${body}`;
    } catch (error: unknown) {
      lastOutcome = describeFailure(error);
    }
    const remaining = deadline - clock.now();
    if (remaining <= 0) {
      throw new Error(
        `${url} did not answer 200 within ${Math.round(poll.timeoutMs / 1000)} s (${attempts} attempts; last: ` +
          `${lastOutcome}). The host must start with the new package and reach its storage and Cosmos DB: ` +
          'check the app in the portal (Log stream, Application Insights) and run `pulumi up` again.',
      );
    }
    await clock.sleep(Math.min(remaining, poll.intervalMs));
  }
}

/**
 * The warm-up provider's create and update: polls the health route with the inputs' timings, then syncs the
 * triggers with the deployer's login (Owner or Contributor on the subscription can).
 */
export async function warmUpHost(inputs: WarmUpInputs): Promise<WarmUpInputs> {
  const clock = systemClock();
  await waitForHealthy(
    inputs.healthUrl,
    {
      timeoutMs: inputs.timeoutSeconds * 1000,
      intervalMs: inputs.intervalSeconds * 1000,
      requestTimeoutMs: 60_000,
    },
    clock,
  );
  const { DefaultAzureCredential } = loadModule<typeof import('@azure/identity')>('@azure/identity');
  const arm = armEndpoint();
  const { token } = await new DefaultAzureCredential().getToken(arm.scope);
  await syncFunctionTriggers(syncTriggersUrl(arm.url, inputs.functionAppId), token, clock);
  return inputs;
}

/** The upload's CRUD; each method only delegates, so what Pulumi serialises stays small. */
const packageUploadProvider: pulumi.dynamic.ResourceProvider<PackageUploadInputs, PackageUploadState> = {
  async diff(_id, olds, news) {
    return diffPackageUpload(olds, news);
  },
  async create(inputs) {
    const state = await uploadPackageBlob(inputs);
    return { id: state.blobUrl, outs: state };
  },
  async update(_id, _olds, news) {
    return { outs: await uploadPackageBlob(news) };
  },
  async delete(_id, state) {
    await deletePackageBlob(state);
  },
};

/** The warm-up's CRUD: creating or updating it waits for the host; deleting it has nothing to remove. */
const hostWarmUpProvider: pulumi.dynamic.ResourceProvider<WarmUpInputs, WarmUpInputs> = {
  async diff(_id, olds, news) {
    return diffWarmUp(olds, news);
  },
  async create(inputs) {
    return { id: inputs.healthUrl, outs: await warmUpHost(inputs) };
  },
  async update(_id, _olds, news) {
    return { outs: await warmUpHost(news) };
  },
  async delete() {
    // Nothing exists outside the state: the warm-up only waited.
  },
};

/** Dynamic resource type names (`pulumi-nodejs:dynamic:<name>` in the engine). */
export const packageUploadType = 'FlexPackageUpload';
export const hostWarmUpType = 'FunctionHostWarmUp';

type InputsOf<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };

/** The zip in the deployment container, written with the deployer's Entra login (see `uploadPackageBlob`). */
export class FlexPackageUpload extends pulumi.dynamic.Resource {
  declare public readonly sha256: pulumi.Output<string>;
  declare public readonly blobUrl: pulumi.Output<string>;

  constructor(name: string, args: InputsOf<PackageUploadInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      packageUploadProvider,
      name,
      { ...args, blobUrl: undefined, etag: undefined },
      opts,
      undefined,
      packageUploadType,
    );
  }
}

/** Waits until the app answers its health route, so the host has started and created its system keys. */
export class FunctionHostWarmUp extends pulumi.dynamic.Resource {
  declare public readonly healthUrl: pulumi.Output<string>;

  constructor(name: string, args: InputsOf<WarmUpInputs>, opts?: pulumi.CustomResourceOptions) {
    super(hostWarmUpProvider, name, { ...args }, opts, undefined, hostWarmUpType);
  }
}

export interface DeploymentPackageArgs {
  /** Host storage account holding the deployment container. */
  readonly accountName: pulumi.Input<string>;
  /** Its resource id: the deployer's role is scoped to the container below it. */
  readonly accountId: pulumi.Input<string>;
  /** Its blob endpoint (`primaryEndpoints.blob`). */
  readonly blobEndpoint: pulumi.Input<string>;
  /** Container `functionAppConfig.deployment.storage` points at (`deployment-package`). */
  readonly containerName: string;
  /** The zip `npm run package` wrote, found by `locatePackage` (stack config `deploymentPackagePath`). */
  readonly packageFile: PackageFile;
  /** Object id of whoever runs `pulumi up` (`getClientConfig().objectId`): a user or a service principal. */
  readonly deployerPrincipalId: pulumi.Input<string>;
  /** Its kind; Azure refuses an assignment whose type does not match the principal (stack config). */
  readonly deployerPrincipalType: DeployerPrincipalType;
  /** Subscription of the stack; role definition ids are subscription-scoped. */
  readonly subscriptionId: pulumi.Input<string>;
  /** Blob name inside the container. Default `released-package.zip`, the name Flex Consumption loads. */
  readonly blobName?: string;
  /** Seconds a 403 from a not yet propagated deployer role is retried. Default 300. */
  readonly roleWaitSeconds?: number;
}

/**
 * The app's code as the Function App runs it: the deployment zip uploaded into the deployment container by
 * the deployer's own login, which the stack grants write access to that one container. The blob's metadata
 * carries the zip's sha256, so the running package can be matched to a build; a changed zip is uploaded again.
 */
export class DeploymentPackage extends pulumi.ComponentResource {
  public readonly upload: FlexPackageUpload;
  /** The deployer's Storage Blob Data Contributor grant on the deployment container. */
  public readonly uploaderRole: authorization.RoleAssignment;
  /** Hex sha256 of the zip, known when the program starts (also the blob's `sha256` metadata). */
  public readonly sha256: string;
  /** The same sha256, resolved once the upload is done: what depends on the new code being in place. */
  public readonly uploadedSha256: pulumi.Output<string>;
  public readonly blobUrl: pulumi.Output<string>;

  constructor(name: string, args: DeploymentPackageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:DeploymentPackage', name, {}, opts);
    this.sha256 = args.packageFile.sha256;
    const blobName = args.blobName ?? flexPackageBlobName;

    // Why: keys are off, so the upload is an Entra data-plane write; Owner on the subscription has no data
    // actions. Contributor on this one container lets the deployer write the package and nothing else.
    const containerScope = pulumi.interpolate`${args.accountId}/blobServices/default/containers/${args.containerName}`;
    this.uploaderRole = new authorization.RoleAssignment(
      `${name}-uploader`,
      {
        // A name derived from scope, principal and role makes a re-run find the same assignment.
        roleAssignmentName: pulumi
          .all([containerScope, args.deployerPrincipalId])
          .apply(([scope, principalId]) =>
            deterministicGuid(scope, principalId, builtInRoleIds.storageBlobDataContributor),
          ),
        scope: containerScope,
        principalId: args.deployerPrincipalId,
        // Configured rather than left out: azure-native fills in `User` when it is absent, which a service
        // principal deploying from CI would be refused with.
        principalType: args.deployerPrincipalType,
        roleDefinitionId: pulumi
          .output(args.subscriptionId)
          .apply((subscriptionId) =>
            roleDefinitionResourceId(subscriptionId, builtInRoleIds.storageBlobDataContributor),
          ),
      },
      { parent: this },
    );

    this.upload = new FlexPackageUpload(
      `${name}-upload`,
      {
        accountName: args.accountName,
        blobEndpoint: args.blobEndpoint,
        containerName: args.containerName,
        blobName,
        packagePath: args.packageFile.path,
        sha256: this.sha256,
        roleWaitSeconds: args.roleWaitSeconds ?? 300,
      },
      { parent: this, dependsOn: [this.uploaderRole] },
    );

    this.uploadedSha256 = this.upload.sha256;
    this.blobUrl = pulumi
      .all([args.blobEndpoint, this.upload.id])
      .apply(([blobEndpoint]) =>
        packageBlobUrl({ blobEndpoint, containerName: args.containerName, blobName }),
      );
    this.registerOutputs({ sha256: this.sha256, blobUrl: this.blobUrl });
  }
}

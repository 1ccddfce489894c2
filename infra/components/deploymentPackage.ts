import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as storage from '@pulumi/azure-native/storage';
import * as pulumi from '@pulumi/pulumi';

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

export interface DeploymentPackageArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  /** Host storage account holding the deployment container. */
  readonly accountName: pulumi.Input<string>;
  /** Container `functionAppConfig.deployment.storage` points at (`deployment-package`). */
  readonly containerName: pulumi.Input<string>;
  /** The zip `npm run package` wrote, found by `locatePackage` (stack config `deploymentPackagePath`). */
  readonly packageFile: PackageFile;
  /** Blob name inside the container. Default `released-package.zip`, the name Flex Consumption loads. */
  readonly blobName?: string;
}

/**
 * The app's code as the Function App runs it: the deployment zip uploaded into the deployment container. The
 * blob's metadata carries the zip's sha256, so the running package can be matched to a build; a changed zip
 * changes the asset's hash and Pulumi uploads the new one.
 */
export class DeploymentPackage extends pulumi.ComponentResource {
  public readonly blob: storage.Blob;
  /** Hex sha256 of the uploaded zip (also the blob's `sha256` metadata). */
  public readonly sha256: string;
  public readonly blobUrl: pulumi.Output<string>;

  constructor(name: string, args: DeploymentPackageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:DeploymentPackage', name, {}, opts);
    this.sha256 = args.packageFile.sha256;

    // Why: the blob's name is fixed, so a replacement must delete the old blob first; creating the new one first
    // and then deleting the old would delete the very blob just written.
    this.blob = new storage.Blob(
      `${name}-blob`,
      {
        resourceGroupName: args.resourceGroupName,
        accountName: args.accountName,
        containerName: args.containerName,
        blobName: args.blobName ?? flexPackageBlobName,
        type: storage.BlobType.Block,
        contentType: 'application/zip',
        source: new pulumi.asset.FileAsset(args.packageFile.path),
        metadata: { sha256: this.sha256 },
      },
      { parent: this, deleteBeforeReplace: true },
    );

    this.blobUrl = this.blob.url;
    this.registerOutputs({ sha256: this.sha256, blobUrl: this.blobUrl });
  }
}

import * as web from '@pulumi/azure-native/web';
import * as pulumi from '@pulumi/pulumi';
import type { AppSetting } from '../appSettings';

export interface FunctionAppArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly planName: string;
  readonly appName: string;
  /** Blob container URL the package is deployed to and run from (read with the app's identity). */
  readonly deploymentContainerUrl: pulumi.Input<string>;
  /** App settings: identity-based connections and operational values, no secrets (`functionAppSettings`). */
  readonly appSettings: readonly AppSetting[];
  /** Memory per instance in MB: 2048 or 4096. */
  readonly instanceMemoryMB: 2048 | 4096;
  /** Upper bound on instances. */
  readonly maximumInstanceCount: number;
  /** Node.js major version of the Functions runtime. Default '20'. */
  readonly nodeVersion?: string;
}

/** The Function App on a Flex Consumption plan (Linux), with a system-assigned managed identity. */
export class FunctionApp extends pulumi.ComponentResource {
  public readonly plan: web.AppServicePlan;
  public readonly app: web.WebApp;
  public readonly appName: pulumi.Output<string>;
  /** Object id of the system-assigned identity, the principal of every role assignment. */
  public readonly principalId: pulumi.Output<string>;
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: FunctionAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:FunctionApp', name, {}, opts);

    // Why: Flex Consumption scales to zero yet allows identity-only storage, bigger instances and a 30 min timeout.
    this.plan = new web.AppServicePlan(
      `${name}-plan`,
      {
        name: args.planName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: 'functionapp',
        reserved: true,
        sku: { name: 'FC1', tier: 'FlexConsumption' },
      },
      { parent: this },
    );

    // Why: hosts every function; its system identity is the only credential it has to storage, Cosmos and Bus.
    this.app = new web.WebApp(
      `${name}-app`,
      {
        name: args.appName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: 'functionapp,linux',
        reserved: true,
        serverFarmId: this.plan.id,
        httpsOnly: true,
        identity: { type: web.ManagedServiceIdentityType.SystemAssigned },
        siteConfig: {
          appSettings: args.appSettings.map((setting) => ({ name: setting.name, value: setting.value })),
          minTlsVersion: web.SupportedTlsVersions.SupportedTlsVersions_1_2,
          scmMinTlsVersion: web.SupportedTlsVersions.SupportedTlsVersions_1_2,
          ftpsState: web.FtpsState.Disabled,
          http20Enabled: true,
        },
        functionAppConfig: {
          deployment: {
            storage: {
              type: web.FunctionsDeploymentStorageType.BlobContainer,
              value: args.deploymentContainerUrl,
              authentication: { type: web.AuthenticationType.SystemAssignedIdentity },
            },
          },
          runtime: { name: web.RuntimeName.Node, version: args.nodeVersion ?? '20' },
          scaleAndConcurrency: {
            instanceMemoryMB: args.instanceMemoryMB,
            maximumInstanceCount: args.maximumInstanceCount,
          },
        },
      },
      { parent: this },
    );

    // Why: basic-auth publishing (FTP user and password) would be a credential outside Entra ID.
    new web.WebAppFtpAllowed(
      `${name}-ftp-basic-auth`,
      { name: this.app.name, resourceGroupName: args.resourceGroupName, allow: false },
      { parent: this },
    );

    // Why: deployments go through Entra-authenticated zip deploy, never the SCM site's basic-auth credentials.
    new web.WebAppScmAllowed(
      `${name}-scm-basic-auth`,
      { name: this.app.name, resourceGroupName: args.resourceGroupName, allow: false },
      { parent: this },
    );

    this.appName = this.app.name;
    this.principalId = this.app.identity.apply((identity) => {
      if (identity?.principalId === undefined) {
        throw new Error(`function app ${args.appName} has no system-assigned identity principal`);
      }
      return identity.principalId;
    });
    this.url = pulumi.interpolate`https://${this.app.defaultHostName}`;
    this.registerOutputs({ appName: this.appName, principalId: this.principalId, url: this.url });
  }
}

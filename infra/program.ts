import * as authorization from '@pulumi/azure-native/authorization';
import * as pulumi from '@pulumi/pulumi';
import { readInfraConfig } from './config';
import { resourceNames, uniqueSuffix } from './naming';
import { Platform } from './platform';

/** Stack outputs: what a deployer or the app's operators need after `pulumi up`. */
export interface StackOutputs {
  readonly resourceGroupName: pulumi.Output<string>;
  readonly functionAppName: pulumi.Output<string>;
  readonly functionAppUrl: pulumi.Output<string>;
  /** `https://<app host>/api`, e.g. `curl "$(pulumi stack output apiBaseUrl)/health"`. */
  readonly apiBaseUrl: pulumi.Output<string>;
  readonly hostStorageAccountName: pulumi.Output<string>;
  readonly dataStorageAccountName: pulumi.Output<string>;
  readonly cosmosEndpoint: pulumi.Output<string>;
  readonly serviceBusNamespace: pulumi.Output<string>;
}

/**
 * The stack program, exported by `index.ts`. An async function, because globally unique names need the
 * subscription id before the first resource is declared; Pulumi awaits it and publishes the returned outputs.
 */
export async function main(): Promise<StackOutputs> {
  const config = readInfraConfig();
  // Why: the objectId is whoever runs `pulumi up`; the stack grants it the right to upload the package.
  const { subscriptionId, objectId } = await authorization.getClientConfig();
  const project = pulumi.getProject();
  const stack = pulumi.getStack();
  const platform = new Platform('hsmlops', {
    config,
    names: resourceNames(config.namePrefix, stack, uniqueSuffix(subscriptionId, project, stack)),
    subscriptionId,
    deployerPrincipalId: objectId,
  });
  return {
    resourceGroupName: platform.resourceGroupName,
    functionAppName: platform.functionAppName,
    functionAppUrl: platform.functionAppUrl,
    apiBaseUrl: platform.apiBaseUrl,
    hostStorageAccountName: platform.hostStorageAccountName,
    dataStorageAccountName: platform.dataStorageAccountName,
    cosmosEndpoint: platform.cosmosEndpoint,
    serviceBusNamespace: platform.serviceBusNamespace,
  };
}

import type * as pulumi from '@pulumi/pulumi';
import { appSettingNames, azureEnvironmentName } from './settings';

/** Where each service is: names and endpoints only, because every connection authenticates with Entra ID. */
export interface IdentityConnections {
  readonly hostStorageAccountName: pulumi.Input<string>;
  readonly dataStorageAccountName: pulumi.Input<string>;
  readonly dataBlobServiceUri: pulumi.Input<string>;
  readonly dataQueueServiceUri: pulumi.Input<string>;
  readonly cosmosEndpoint: pulumi.Input<string>;
  readonly cosmosDatabaseName: string;
  readonly serviceBusFullyQualifiedNamespace: pulumi.Input<string>;
  readonly durableTaskHub: string;
  readonly appInsightsConnectionString: pulumi.Input<string>;
}

export interface AppSetting {
  readonly name: string;
  readonly value: pulumi.Input<string>;
}

/**
 * The Function App's settings. The runtime (`FUNCTIONS_WORKER_RUNTIME`, Node version) is not among them: Flex
 * Consumption takes it from `functionAppConfig.runtime` and rejects it as an app setting.
 */
export function identityAppSettings(connections: IdentityConnections): AppSetting[] {
  return [
    { name: appSettingNames.hostStorageAccountName, value: connections.hostStorageAccountName },
    { name: appSettingNames.dataStorageAccountName, value: connections.dataStorageAccountName },
    { name: appSettingNames.dataStorageBlobServiceUri, value: connections.dataBlobServiceUri },
    { name: appSettingNames.dataStorageQueueServiceUri, value: connections.dataQueueServiceUri },
    { name: appSettingNames.cosmosAccountEndpoint, value: connections.cosmosEndpoint },
    { name: appSettingNames.serviceBusNamespace, value: connections.serviceBusFullyQualifiedNamespace },
    { name: appSettingNames.cosmosDatabase, value: connections.cosmosDatabaseName },
    { name: appSettingNames.durableTaskHub, value: connections.durableTaskHub },
    { name: appSettingNames.environment, value: azureEnvironmentName },
    { name: appSettingNames.appInsightsConnectionString, value: connections.appInsightsConnectionString },
    // Telemetry is sent with the app's identity because the Application Insights resource refuses key auth.
    { name: appSettingNames.appInsightsAuthentication, value: 'Authorization=AAD' },
  ];
}

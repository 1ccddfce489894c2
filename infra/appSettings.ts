import type * as pulumi from '@pulumi/pulumi';
import { appSettingNames, azureBlobTriggerSource, azureEnvironmentName } from './settings';

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

/** Operational settings the stack owns, so the deployed values are reviewed with the infrastructure. */
export interface OperationalSettings {
  /** `RETRAIN_SCHEDULE`, already validated by the app's loader (see `parseInfraConfig`). */
  readonly retrainSchedule: string;
  /**
   * sha256 of the deployed zip, resolved once it is uploaded. A new package changes this setting, and changing
   * a setting restarts the app, so running instances load the new code instead of keeping the old.
   */
  readonly deploymentPackageSha256: pulumi.Input<string>;
}

export interface AppSetting {
  readonly name: string;
  readonly value: pulumi.Input<string>;
}

/**
 * The Function App's settings: where each service is, plus the operational settings. The runtime
 * (`FUNCTIONS_WORKER_RUNTIME`, Node version) is not among them: Flex Consumption takes it from
 * `functionAppConfig.runtime` and rejects it as an app setting.
 */
export function functionAppSettings(
  connections: IdentityConnections,
  operations: OperationalSettings,
): AppSetting[] {
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
    { name: appSettingNames.retrainSchedule, value: operations.retrainSchedule },
    // Flex Consumption fires blob triggers only from Event Grid (subscriptions in components/blobEvents.ts).
    { name: appSettingNames.blobTriggerSource, value: azureBlobTriggerSource },
    { name: appSettingNames.deploymentPackageSha256, value: operations.deploymentPackageSha256 },
  ];
}

/**
 * Names the infrastructure and the app must agree on: connection prefixes, app setting names, container,
 * database and entity names. The app owns them (`shared/config.ts` SETTING, `shared/platform/resources.ts`);
 * this module only re-exports them in the shape the Pulumi program uses, plus the infra-only names.
 */
import { SETTING } from '../shared/config';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS, SERVICE_BUS_ENTITIES } from '../shared/platform/resources';

/**
 * Connection prefixes as the Functions host and the app see them. With identity-based connections the host
 * reads `<prefix>__accountName` / `__fullyQualifiedNamespace` / `__accountEndpoint` instead of a secret.
 */
export const connectionNames = {
  hostStorage: SETTING.hostStorage,
  dataStorage: SETTING.dataStorage,
  cosmos: SETTING.cosmos,
  serviceBus: SETTING.serviceBus,
} as const;

/** Every app setting the Function App receives; nothing else is set, and none of them is a secret. */
export const appSettingNames = {
  hostStorageAccountName: `${connectionNames.hostStorage}__accountName`,
  dataStorageAccountName: `${connectionNames.dataStorage}__accountName`,
  dataStorageBlobServiceUri: `${connectionNames.dataStorage}__blobServiceUri`,
  dataStorageQueueServiceUri: `${connectionNames.dataStorage}__queueServiceUri`,
  cosmosAccountEndpoint: `${connectionNames.cosmos}__accountEndpoint`,
  serviceBusNamespace: `${connectionNames.serviceBus}__fullyQualifiedNamespace`,
  cosmosDatabase: SETTING.cosmosDatabase,
  durableTaskHub: SETTING.durableTaskHub,
  environment: SETTING.environment,
  appInsightsConnectionString: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
  appInsightsAuthentication: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
} as const;

/** `HS_ENV` value in Azure; the app picks identity-based clients for it. */
export const azureEnvironmentName = 'azure';

/** Blob containers of the data storage account, one per stage of the data flow (the app's own list). */
export const dataBlobContainers = BLOB_CONTAINERS;

/** Container in the host storage account that holds the Flex Consumption deployment package. */
export const deploymentBlobContainer = 'deployment-package';

export const cosmosDatabaseName = 'hsmlops';

export interface CosmosContainerSpec {
  readonly name: string;
  readonly partitionKeyPath: string;
}

/** Cosmos DB containers and their partition keys, taken from the app's declaration so the two cannot drift. */
export const cosmosContainers: readonly CosmosContainerSpec[] = Object.values(COSMOS_CONTAINERS).map(
  (container) => ({ name: container.id, partitionKeyPath: container.partitionKey }),
);

/** The container whose items expire (`predictionRetentionDays`); every other container keeps its items. */
export const expiringCosmosContainer = COSMOS_CONTAINERS.predictions.id;

/** Service Bus entities: the app's own names (`shared/platform/resources.ts`). */
export const serviceBusEntities = SERVICE_BUS_ENTITIES;
